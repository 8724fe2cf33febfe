# Multi-group, mean-structure and measurement-invariance references (issue 10), lavaan 0.6.14.
# Run from this folder: Rscript make_groups.R   (writes groups_reference.json; a few minutes,
# most of it the 2,000-replicate bootstrapLavaan of the two-group survey model)
source("ref_common.R")
t_script <- proc.time()

hs <- read.csv("hs.csv")
lc <- read.csv("lc_shared.csv")

hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
# the canonical survey model without its labels (a label shared by both groups would make
# a, b, c equal across sectors, see "lc_canonical_labels_shared")
lc_struct <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ culture
 perf ~ kmsuse + culture '
lc_canonical <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '

data_of <- list(hs = hs, lc = lc)
fits <- list()
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            data = list(hs = "hs.csv", lc = "lc_shared.csv"),
            fits = list())

run <- function(name, model, data_name, ...) {
  opts <- list(...)
  f <- do.call("sem", c(list(model = model, data = data_of[[data_name]]), opts))
  fits[[name]] <<- f
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = data_of_file(data_name), fun = "sem"), opts))
  invisible(f)
}
data_of_file <- function(n) c(hs = "hs.csv", lc = "lc_shared.csv")[[n]]

# score tests with the parameters each plabel refers to
score_tests <- function(fit) {
  st <- lavTestScore(fit, univariate = TRUE, cumulative = TRUE, epc = FALSE)
  pt <- parTable(fit)
  annotate <- function(d) {
    d <- as.data.frame(d); class(d) <- "data.frame"
    for (side in c("lhs", "rhs")) {
      i <- match(d[[side]], pt$plabel)
      d[[paste0(side, ".param")]] <- paste0(pt$lhs[i], pt$op[i], pt$rhs[i])
      d[[paste0(side, ".group")]] <- pt$group[i]
      d[[paste0(side, ".label")]] <- pt$label[i]
    }
    d
  }
  list(total = conv(as.data.frame(st$test)), univariate = conv(annotate(st$uni)),
       cumulative = conv(annotate(st$cumulative)))
}

## ---- single-group mean structures -------------------------------------------------
run("hs_meanstructure", hs_model, "hs", meanstructure = TRUE)
hs_fixed_int <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 x1 ~ 0*1
 visual ~ 1
 x8 ~ i89*1
 x9 ~ i89*1 '
run("hs_fixed_intercepts", hs_fixed_int, "hs")
run("lc_canonical_meanstructure", lc_canonical, "lc", meanstructure = TRUE)

## ---- invariance sequences ------------------------------------------------------------
levels <- list(configural = character(0), metric = "loadings",
               scalar = c("loadings", "intercepts"),
               strict = c("loadings", "intercepts", "residuals"))
for (d in c("hs", "lc")) {
  model <- if (d == "hs") hs_model else lc_struct
  grp <- if (d == "hs") "school" else "sector"
  for (lv in names(levels)) {
    if (length(levels[[lv]])) run(paste0(d, "_", lv), model, d, group = grp, group.equal = levels[[lv]])
    else run(paste0(d, "_", lv), model, d, group = grp)
  }
  # partial scalar: release the intercept equality with the largest univariate score test
  st <- lavTestScore(fits[[paste0(d, "_scalar")]], univariate = TRUE, cumulative = FALSE)$uni
  pt <- parTable(fits[[paste0(d, "_scalar")]])
  i <- match(st$lhs, pt$plabel)
  is_int <- pt$op[i] == "~1"
  k <- which(is_int)[which.max(st$X2[is_int])]
  released <- paste0(pt$lhs[i[k]], "~1")
  run(paste0(d, "_partial_scalar"), model, d, group = grp, group.equal = c("loadings", "intercepts"),
      group.partial = released)
  out$fits[[paste0(d, "_partial_scalar")]]$released_by_score_test <-
    list(param = released, X2 = st$X2[k], chosen_from = "largest univariate X2 among intercept constraints of the scalar model")
  n <- paste0(d, "_", c("configural", "metric", "scalar", "strict"))
  out$lrt[[paste0(d, "_sequence")]] <- lrt_table(fits[[n[1]]], fits[[n[2]]], fits[[n[3]]], fits[[n[4]]], model.names = n)
  out$lrt[[paste0(d, "_metric_vs_partial_scalar")]] <- lrt_table(fits[[n[2]]], fits[[paste0(d, "_partial_scalar")]],
      model.names = c(n[2], paste0(d, "_partial_scalar")))
  out$lrt[[paste0(d, "_partial_scalar_vs_scalar")]] <- lrt_table(fits[[paste0(d, "_partial_scalar")]], fits[[n[3]]],
      model.names = c(paste0(d, "_partial_scalar"), n[3]))
  out$score_tests[[paste0(d, "_metric")]] <- score_tests(fits[[n[2]]])
  out$score_tests[[paste0(d, "_scalar")]] <- score_tests(fits[[n[3]]])
  mi <- as.data.frame(modindices(fits[[n[1]]]))
  out$modindices[[paste0(d, "_configural")]] <- conv(mi)
}

## ---- other group.equal sets ------------------------------------------------------------
run("hs_lv_var_cov", hs_model, "hs", group = "school",
    group.equal = c("loadings", "lv.variances", "lv.covariances"))
run("hs_scalar_lv_means", hs_model, "hs", group = "school",
    group.equal = c("loadings", "intercepts", "lv.variances", "lv.covariances", "means"))
lc_rescov <- paste(lc_struct, "\n culture1 ~~ culture2 ")
run("lc_regressions_rescov", lc_rescov, "lc", group = "sector",
    group.equal = c("loadings", "intercepts", "regressions", "lv.variances", "residual.covariances", "means"))
run("lc_rescov_configural", lc_rescov, "lc", group = "sector")
out$lrt$lc_rescov_configural_vs_equal <- lrt_table(fits$lc_rescov_configural, fits$lc_regressions_rescov,
    model.names = c("lc_rescov_configural", "lc_regressions_rescov"))
out$lrt$hs_scalar_vs_scalar_lv_means <- lrt_table(fits$hs_scalar, fits$hs_scalar_lv_means,
    model.names = c("hs_scalar", "hs_scalar_lv_means"))

## ---- labelled cross-group constraints --------------------------------------------------
hs_labelled <- ' visual =~ x1 + c(a1, a1)*x2 + c(1, NA)*x3
 textual =~ x4 + c(b1, b2)*x5 + x6
 speed =~ x7 + x8 + x9
 x9 ~~ c(v9, v9)*x9
 x4 ~ c(i4, i4)*1
 dl := b1 - b2 '
run("hs_labelled", hs_labelled, "hs", group = "school")
lc_labelled <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ c(a1, a2)*culture
 perf ~ c(b1, b2)*kmsuse + c(c1, c2)*culture
 ind1 := a1*b1
 ind2 := a2*b2
 ind_diff := ind1 - ind2 '
run("lc_labelled", lc_labelled, "lc", group = "sector", group.equal = c("loadings", "intercepts"))
run("lc_canonical_labels_shared", lc_canonical, "lc", group = "sector")
out$lrt$lc_labelled_vs_shared <- lrt_table(fits$lc_labelled, fits$lc_canonical_labels_shared,
    model.names = c("lc_labelled", "lc_canonical_labels_shared"))

## ---- bootstrap of the two-group survey configural model ------------------------------------
boot_stat <- function(x) c(coef(x), fitMeasures(x, c("chisq", "cfi", "rmsea", "srmr")))
bt <- system.time(b <- bootstrapLavaan(fits$lc_configural, R = 2000, FUN = boot_stat, iseed = 20261))
ok <- stats::complete.cases(b)
stat_names <- names(boot_stat(fits$lc_configural))
pct <- apply(b, 2, function(x) as.numeric(quantile(x, c(.025, .975), na.rm = TRUE)))
out$bootstrap_lc_configural <- list(
  fit = "lc_configural", R = 2000, iseed = 20261, type = "ordinary (resampling within groups)",
  fun = "c(coef(x), fitMeasures(x, c('chisq','cfi','rmsea','srmr')))",
  quantile_type = 7, n_ok = sum(ok), seconds = unname(bt["elapsed"]),
  cpu_seconds = unname(bt["user.self"] + bt["sys.self"]),
  names = I(stat_names), estimate = I(unname(boot_stat(fits$lc_configural))),
  pct_2.5 = I(unname(pct[1, ])), pct_97.5 = I(unname(pct[2, ])),
  mean = I(unname(colMeans(b, na.rm = TRUE))), sd = I(unname(apply(b, 2, sd, na.rm = TRUE))))

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$script_cpu_seconds <- unname(tt["user.self"] + tt["sys.self"])
out$load_average_at_end <- tryCatch(readLines("/proc/loadavg"), error = function(e) "")
write_ref(out, "groups_reference.json")
cat("make_groups.R done in", out$script_seconds, "s; bootstrap", unname(bt["elapsed"]), "s\n")
