# Ordinal (categorical) references (issue 12): thresholds, polychoric/polyserial correlations,
# WLSMV/DWLS/WLS/ULSMV, delta and theta parameterisations, a two-group Wu & Estabrook (2016)
# threshold-invariance sequence and categorical reliability. lavaan 0.6.14 / semTools 0.5.6.
# Run from this folder: Rscript make_ordinal.R   (writes ordinal_sim.csv, lc_ordinal.csv, ordinal_reference.json)
source("ref_common.R")
t_script <- proc.time()

## ---- simulated data: 2 factors x 5 items, N = 500 --------------------------------------------
# eta ~ N(0, [[1, .4], [.4, 1]]) by MASS::mvrnorm; y*_j = lambda_j * eta_f + sqrt(1 - lambda_j^2) * e_j,
# e_j ~ N(0, 1) drawn after eta as one 500 x 10 matrix (rnorm, column order y1..y4, c1, y5..y8, c2);
# y1..y4 cut into 4 categories, y5..y8 into 5, by category = 1 + #(thresholds < y*);
# c1, c2 stay continuous (rounded to nothing: full double precision in the CSV).
set.seed(1201)
N <- 500
eta <- MASS::mvrnorm(N, c(0, 0), matrix(c(1, .4, .4, 1), 2))
lam <- c(y1 = .70, y2 = .60, y3 = .80, y4 = .65, c1 = .70, y5 = .75, y6 = .70, y7 = .60, y8 = .55, c2 = .65)
fac <- c(1, 1, 1, 1, 1, 2, 2, 2, 2, 2)
E <- matrix(rnorm(N * 10), N, 10)
ystar <- sapply(1:10, function(j) lam[j] * eta[, fac[j]] + sqrt(1 - lam[j]^2) * E[, j])
colnames(ystar) <- names(lam)
tau <- list(y1 = c(-1.0, 0.0, 1.2), y2 = c(-0.6, 0.3, 1.5), y3 = c(-1.3, -0.2, 0.8), y4 = c(-0.4, 0.5, 1.6),
            y5 = c(-1.5, -0.5, 0.4, 1.3), y6 = c(-1.8, -0.9, 0.0, 1.0), y7 = c(-1.2, -0.3, 0.6, 1.6),
            y8 = c(-2.0, -1.0, -0.1, 0.9))
sim <- as.data.frame(ystar)
for (v in names(tau)) sim[[v]] <- 1L + findInterval(ystar[, v], tau[[v]])
sim <- sim[, c(paste0("y", 1:8), "c1", "c2")]
write.csv(sim, "ordinal_sim.csv", row.names = FALSE)

## ---- the survey cut to 5 categories --------------------------------------------------------------------
# every item z-scored (mean, sd with N - 1, whole sample), then category = 1 + #(cuts < z) with
# cuts -1.6, -0.8, 0.1, 1.0 (skewed towards agreement, as Likert answers are); sector kept.
lc <- read.csv("lc_shared.csv")
items <- c(paste0("culture", 1:6), paste0("kmsuse", 1:4), paste0("perf", 1:5))
cuts <- c(-1.6, -0.8, 0.1, 1.0)
lc_ord <- lc
for (v in items) lc_ord[[v]] <- 1L + findInterval((lc[[v]] - mean(lc[[v]])) / sd(lc[[v]]), cuts)
write.csv(lc_ord, "lc_ordinal.csv", row.names = FALSE)

datasets <- list(sim = sim, lc_ord = lc_ord)
files <- c(sim = "ordinal_sim.csv", lc_ord = "lc_ordinal.csv")
fits <- list()
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            data = as.list(files),
            simulation = list(N = N, seed = 1201, loadings = as.list(lam), factor_cor = 0.4,
                              thresholds = tau, factor_of_item = as.list(setNames(fac, names(lam)))),
            lc_cut_rule = list(cuts = cuts, rule = "category = 1 + #(cuts < (x - mean) / sd), sd with N - 1"),
            fits = list())

extras <- function(f) {
  labels <- lavInspect(f, "group.label"); glab <- if (length(labels)) labels else "1"
  x <- list(test = conv(lavInspect(f, "test")),
            th = per_group(lavInspect(f, "th"), glab))
  w <- lavInspect(f, "WLS.V"); wl <- if (is.list(w)) w else list(w)
  x$wls_v_diag <- setNames(lapply(wl, function(m) I(unname(diag(m)))), glab)
  x$wls_v_dim <- setNames(lapply(wl, function(m) I(dim(m))), glab)
  g <- lavInspect(f, "gamma"); gl <- if (is.list(g)) g else list(g)
  x$gamma_dim <- setNames(lapply(gl, function(m) I(dim(m))), glab)
  x$wls_obs <- per_group(lavInspect(f, "wls.obs"), glab)
  x$wls_est <- per_group(lavInspect(f, "wls.est"), glab)
  x
}
run <- function(name, model, data_name, fun = "cfa", ...) {
  opts <- list(...)
  f <- do.call(fun, c(list(model = model, data = datasets[[data_name]]), opts))
  fits[[name]] <<- f
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = files[[data_name]], fun = fun), opts), extras(f))
  invisible(f)
}

## ---- simulated data -----------------------------------------------------------------------------------
sim_model <- ' f1 =~ y1 + y2 + y3 + y4
 f2 =~ y5 + y6 + y7 + y8 '
ord8 <- paste0("y", 1:8)
run("sim_wlsmv", sim_model, "sim", ordered = ord8)
run("sim_wlsmv_theta", sim_model, "sim", ordered = ord8, parameterization = "theta")
run("sim_dwls", sim_model, "sim", ordered = ord8, estimator = "DWLS")
run("sim_wls", sim_model, "sim", ordered = ord8, estimator = "WLS")
run("sim_ulsmv", sim_model, "sim", ordered = ord8, estimator = "ULSMV")
run("sim_wlsmv_std_lv", sim_model, "sim", ordered = ord8, std.lv = TRUE)
sim_mixed <- ' f1 =~ y1 + y2 + y3 + y4 + c1
 f2 =~ y5 + y6 + y7 + y8 + c2 '
run("sim_mixed_wlsmv", sim_mixed, "sim", ordered = ord8)
# nested (equal loadings of y5..y8) for the scaled difference test
sim_nested <- ' f1 =~ y1 + y2 + y3 + y4
 f2 =~ y5 + l*y6 + l*y7 + l*y8 '
run("sim_wlsmv_nested", sim_nested, "sim", ordered = ord8)
# misspecified one-factor model (scaled/robust indices off their bounds)
run("sim_wlsmv_1factor", ' f =~ y1 + y2 + y3 + y4 + y5 + y6 + y7 + y8 ', "sim", ordered = ord8)
run("sim_mixed_wlsmv_1factor", ' f =~ y1 + y2 + y3 + y4 + c1 + y5 + y6 + y7 + y8 + c2 ', "sim", ordered = ord8)
out$lrt$sim_wlsmv <- lrt_table(fits$sim_wlsmv, fits$sim_wlsmv_nested, model.names = c("sim_wlsmv", "sim_wlsmv_nested"))

lc_sim_cor <- function(d, ordered) {
  r <- lavCor(d, ordered = ordered, output = "fit", se = "standard")
  pe <- as.data.frame(parameterEstimates(r))
  list(call = "lavCor(d, ordered = ordered, output = 'fit', se = 'standard')", ordered = I(ordered),
       cor = conv(lavInspect(r, "sampstat")$cov), th = conv(lavInspect(r, "sampstat")$th),
       params = conv(pe[, intersect(c("lhs", "op", "rhs", "est", "se"), names(pe))]))
}
out$lavcor <- list(sim_ordinal = lc_sim_cor(sim[, ord8], ord8),
                   sim_mixed = lc_sim_cor(sim, ord8),
                   lc_ordinal = lc_sim_cor(lc_ord[, items], items))

## ---- survey cut to 5 categories ----------------------------------------------------------------------------
lc_canonical <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '
lc_cfa <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5 '
run("lc_ord_wlsmv", lc_canonical, "lc_ord", fun = "sem", ordered = items)
run("lc_ord_wlsmv_theta", lc_canonical, "lc_ord", fun = "sem", ordered = items, parameterization = "theta")
run("lc_ord_cfa_wlsmv", lc_cfa, "lc_ord", ordered = items)
# misspecified (kmsuse and perf items on one factor), so that the scaled/robust indices are off their bounds
lc_cfa_2f <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsperf =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4 + perf1 + perf2 + perf3 + perf4 + perf5 '
run("lc_ord_cfa_2factor_misspec", lc_cfa_2f, "lc_ord", ordered = items)
run("lc_ord_cfa_2factor_misspec_ulsmv", lc_cfa_2f, "lc_ord", ordered = items, estimator = "ULSMV")
run("lc_ord_cfa_2factor_misspec_theta", lc_cfa_2f, "lc_ord", ordered = items, parameterization = "theta")

## ---- categorical reliability (semTools compRelSEM) ----------------------------------------------------------
out$reliability <- list(
  sim_wlsmv = list(default = conv(compRelSEM(fits$sim_wlsmv)),
                   ord_scale_false = conv(compRelSEM(fits$sim_wlsmv, ord.scale = FALSE))),
  lc_ord_cfa_wlsmv = list(default = conv(compRelSEM(fits$lc_ord_cfa_wlsmv)),
                          ord_scale_false = conv(compRelSEM(fits$lc_ord_cfa_wlsmv, ord.scale = FALSE))),
  note = "default = categorical omega of Green & Yang (2009) (ord.scale = TRUE, obs.var = TRUE)")

## ---- two-group threshold-invariance sequence (Wu & Estabrook 2016) ------------------------------------------
levels <- list(configural = "configural", thresholds = "thresholds",
               loadings = c("thresholds", "loadings"),
               intercepts = c("thresholds", "loadings", "intercepts"))
for (lv in names(levels)) {
  syn <- measEq.syntax(configural.model = lc_cfa, data = lc_ord, ordered = items, parameterization = "delta",
                       ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = "sector",
                       group.equal = levels[[lv]])
  txt <- as.character(syn)
  name <- paste0("lc_ord_inv_", lv)
  run(name, txt, "lc_ord", ordered = items, group = "sector", parameterization = "delta")
  out$fits[[name]]$measEq_call <- list(configural.model = lc_cfa, ordered = I(items), parameterization = "delta",
      ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = "sector", group.equal = I(levels[[lv]]))
}
n <- paste0("lc_ord_inv_", names(levels))
out$lrt$lc_ord_invariance <- lrt_table(fits[[n[1]]], fits[[n[2]]], fits[[n[3]]], fits[[n[4]]], model.names = n)
out$lrt$lc_ord_invariance_pairs <- list(
  configural_vs_thresholds = lrt_table(fits[[n[1]]], fits[[n[2]]], model.names = n[1:2]),
  thresholds_vs_loadings = lrt_table(fits[[n[2]]], fits[[n[3]]], model.names = n[2:3]),
  loadings_vs_intercepts = lrt_table(fits[[n[3]]], fits[[n[4]]], model.names = n[3:4]))
# the same configural model in lavaan's own multi-group defaults (no measEq): differs in identification
run("lc_ord_cfa_groups_lavaan_default", lc_cfa, "lc_ord", ordered = items, group = "sector")

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$script_cpu_seconds <- unname(tt["user.self"] + tt["sys.self"])
out$load_average_at_end <- tryCatch(readLines("/proc/loadavg"), error = function(e) "")
write_ref(out, "ordinal_reference.json")
cat("make_ordinal.R done in", out$script_seconds, "s\n")
