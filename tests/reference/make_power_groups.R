# Multi-group power and GLS power references (issue 13, wave 2), lavaan 0.6.14.
# Run from this folder: Rscript make_power_groups.R [n_rep]   (writes power_groups_reference.json)
#
# 1. A two-group latent path model (sectors "public" and "private") whose path kmsuse ~ culture
#    differs between the groups (a1 = .5, a2 = .2, standardised: every variable has variance 1,
#    means 0). simulateData(pop, sample.nobs = c(n1, n2)) + sem(model, group = "group") at two N,
#    power of every parameter and of diff := a1 - a2 (the sector difference), chi-square rejection.
# 2. GLS: the canonical single-group model with the canonical fit's estimates as population
#    (as make_power.R), refitted with estimator = "GLS" at N = 200.
source("ref_common.R")
t_script <- proc.time()
args <- commandArgs(trailingOnly = TRUE)
n_rep <- if (length(args)) as.integer(args[1]) else 500L

## ---- 1. two groups -------------------------------------------------------------------------------
lam <- c(c1 = .8, c2 = .7, c3 = .6, k1 = .7, k2 = .7, k3 = .6, p1 = .8, p2 = .7, p3 = .7)
a <- c(.5, .2); b <- c(.4, .4); cc <- c(.2, .2)
res_k <- 1 - a^2
res_p <- 1 - (b^2 + cc^2 + 2 * a * b * cc)
num <- function(x) trimws(formatC(x, digits = 17, format = "g"))
cvec <- function(x) sprintf("c(%s, %s)", num(x[1]), num(x[2]))
pop_model <- paste(c(
  sprintf("culture =~ %s*c1 + %s*c2 + %s*c3", num(lam["c1"]), num(lam["c2"]), num(lam["c3"])),
  sprintf("kmsuse =~ %s*k1 + %s*k2 + %s*k3", num(lam["k1"]), num(lam["k2"]), num(lam["k3"])),
  sprintf("perf =~ %s*p1 + %s*p2 + %s*p3", num(lam["p1"]), num(lam["p2"]), num(lam["p3"])),
  sprintf("kmsuse ~ %s*culture", cvec(a)),
  sprintf("perf ~ %s*kmsuse + %s*culture", cvec(b), cvec(cc)),
  "culture ~~ 1*culture",
  sprintf("kmsuse ~~ %s*kmsuse", cvec(res_k)),
  sprintf("perf ~~ %s*perf", cvec(res_p)),
  sprintf("%s ~~ %s*%s", names(lam), num(1 - lam^2), names(lam))), collapse = "\n")
model <- '
culture =~ c1 + c2 + c3
kmsuse =~ k1 + k2 + k3
perf =~ p1 + p2 + p3
kmsuse ~ c(a1, a2)*culture
perf ~ c(b1, b2)*kmsuse + culture
diff := a1 - a2
ind1 := a1*b1
ind2 := a2*b2
'
# the population's implied moments (every variance 1, means 0) as lavaan computes them
f0 <- sem(pop_model, sample.cov = list(diag(9), diag(9)) |> lapply(function(m) { dimnames(m) <- list(names(lam), names(lam)); m }),
          sample.nobs = c(100, 100), do.fit = FALSE)
implied <- lavInspect(f0, "implied")
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            groups = list(population_model = pop_model, model = model, labels = c("public", "private"),
                          population = list(loadings = as.list(lam), a = a, b = b, c = cc),
                          implied_cov = lapply(implied, function(x) conv(x$cov))))

one_rep <- function(n, model, pop, group = TRUE, estimator = "ML") {
  if (group) {
    d <- simulateData(pop, sample.nobs = n)
    d$group <- c("public", "private")[d$group]
    f <- tryCatch(suppressWarnings(sem(model, data = d, group = "group")), error = function(e) NULL)
  } else {
    d <- simulateData(pop, sample.nobs = n)
    f <- tryCatch(suppressWarnings(sem(model, data = d, estimator = estimator)), error = function(e) NULL)
  }
  if (is.null(f) || !lavInspect(f, "converged")) return(NULL)
  p <- parameterEstimates(f)
  p <- p[p$se > 0 | p$op == ":=", ]
  if (is.null(p$group)) p$group <- 1
  list(key = paste0(p$lhs, p$op, p$rhs, "@", p$group), est = p$est, se = p$se, pvalue = p$pvalue,
       admissible = isTRUE(suppressWarnings(lavInspect(f, "post.check"))),
       fm = fitMeasures(f, c("chisq", "pvalue", "cfi", "rmsea", "srmr")))
}
power_run <- function(n, seed, model, pop, group = TRUE, estimator = "ML") {
  set.seed(seed)
  t <- system.time(reps <- lapply(seq_len(n_rep), function(i) one_rep(n, model, pop, group, estimator)))
  ok <- !vapply(reps, is.null, TRUE)
  r <- reps[ok]
  key <- r[[1]]$key
  P <- sapply(r, function(x) x$pvalue[match(key, x$key)])
  E <- sapply(r, function(x) x$est[match(key, x$key)])
  SE <- sapply(r, function(x) x$se[match(key, x$key)])
  FM <- t(sapply(r, function(x) x$fm))
  adm <- vapply(r, function(x) x$admissible, TRUE)
  pw <- rowMeans(P < 0.05, na.rm = TRUE)
  list(n = n, seed = seed, n_rep = n_rep, converged = sum(ok), admissible = sum(adm),
       seconds = unname(t["elapsed"]), seconds_per_rep = unname(t["elapsed"]) / n_rep,
       params = conv(data.frame(param = key, power = pw, power_mcse = sqrt(pw * (1 - pw) / sum(ok)),
                                mean_est = rowMeans(E), sd_est = apply(E, 1, sd), mean_se = rowMeans(SE),
                                stringsAsFactors = FALSE)),
       chisq_reject_rate = mean(FM[, "pvalue"] < 0.05, na.rm = TRUE),
       mean_fit = as.list(colMeans(FM)))
}
out$groups$description <- paste(
  "set.seed(seed) once per N, then n_rep times: d <- simulateData(population_model, sample.nobs = n)",
  "(group 1 = public, 2 = private); sem(model, d, group = 'group') with ML defaults (means free per group);",
  "non-converged fits dropped; power = share of converged fits with parameterEstimates p < .05;",
  "param keys lhs op rhs @ group (0 for :=)")
out$groups$N1 <- power_run(c(120, 80), 5120, model, pop_model)
out$groups$N2 <- power_run(c(240, 160), 5240, model, pop_model)

## ---- 2. GLS on the canonical model ----------------------------------------------------------------
lc <- read.csv("lc_shared.csv")
lc_canonical <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '
fit <- sem(lc_canonical, data = lc)
pe_all <- parameterEstimates(fit)
pe <- pe_all[pe_all$op %in% c("=~", "~", "~~"), ]
pop_canon <- paste(sprintf("%s %s %s*%s", pe$lhs, pe$op, num(pe$est), pe$rhs), collapse = "\n")
out$gls <- list(description = paste("population: the ML canonical fit to lc_shared.csv (as make_power.R);",
                                    "set.seed(seed); n_rep times simulateData(pop, sample.nobs = 200);",
                                    "sem(canonical, d, estimator = 'GLS')"),
                population_model = pop_canon,
                N200 = power_run(200, 6200, lc_canonical, pop_canon, group = FALSE, estimator = "GLS"))

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$load_average_at_end <- tryCatch(readLines("/proc/loadavg"), error = function(e) "")
write_ref(out, "power_groups_reference.json")
cat("make_power_groups.R done in", out$script_seconds, "s\n")
