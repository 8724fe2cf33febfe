# Power, analytic RMSEA power and Monte Carlo CI references (issue 13), lavaan 0.6.14 / semTools 0.5.6.
# Run from this folder: Rscript make_power.R [n_rep]   (writes power_reference.json)
source("ref_common.R")
t_script <- proc.time()
args <- commandArgs(trailingOnly = TRUE)
n_rep <- if (length(args)) as.integer(args[1]) else 1000L

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
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            data = "lc_shared.csv",
            canonical_fit = dump_fit(fit, lc_canonical, list(data = "lc_shared.csv", fun = "sem")))

## ---- population: every estimate of the canonical fit, written as fixed values -------------
pe_all <- parameterEstimates(fit)
pe <- pe_all[pe_all$op %in% c("=~", "~", "~~"), ]
pop_lines <- sprintf("%s %s %s*%s", pe$lhs, pe$op, trimws(formatC(pe$est, digits = 17, format = "g")), pe$rhs)
pop_model <- paste(pop_lines, collapse = "\n")
# check: the population model's implied covariance is the fitted one
S_fit <- lavInspect(fit, "implied")$cov
f0 <- sem(pop_model, sample.cov = lavInspect(fit, "sampstat")$cov, sample.nobs = 350, do.fit = FALSE)
S_pop <- lavInspect(f0, "implied")$cov[rownames(S_fit), colnames(S_fit)]
out$population <- list(model = pop_model, implied_cov = conv(S_fit),
                       max_abs_diff_pop_vs_fit = max(abs(S_pop - S_fit)),
                       note = "no mean structure: simulateData draws zero means; the analysis model has none either")

## ---- the simulateData + sem loop ----------------------------------------------------------------
one_rep <- function(N) {
  d <- simulateData(pop_model, sample.nobs = N)
  f <- tryCatch(suppressWarnings(sem(lc_canonical, data = d)), error = function(e) NULL)
  if (is.null(f) || !lavInspect(f, "converged")) return(NULL)
  p <- parameterEstimates(f)
  p <- p[p$se > 0 | p$op == ":=", ]
  list(key = paste0(p$lhs, p$op, p$rhs), est = p$est, se = p$se, pvalue = p$pvalue,
       admissible = isTRUE(suppressWarnings(lavInspect(f, "post.check"))),
       fm = fitMeasures(f, c("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr")))
}
power_run <- function(N, seed) {
  set.seed(seed)
  t <- system.time(reps <- lapply(seq_len(n_rep), function(i) one_rep(N)))
  ok <- !vapply(reps, is.null, TRUE)
  r <- reps[ok]
  key <- r[[1]]$key
  P <- sapply(r, function(x) x$pvalue[match(key, x$key)])
  E <- sapply(r, function(x) x$est[match(key, x$key)])
  SE <- sapply(r, function(x) x$se[match(key, x$key)])
  FM <- t(sapply(r, function(x) x$fm))
  adm <- vapply(r, function(x) x$admissible, TRUE)
  pw <- rowMeans(P < 0.05, na.rm = TRUE)
  list(N = N, seed = seed, n_rep = n_rep, converged = sum(ok), admissible = sum(adm),
       seconds = unname(t["elapsed"]), cpu_seconds = unname(t["user.self"] + t["sys.self"]),
       seconds_per_rep = unname(t["elapsed"]) / n_rep,
       params = conv(data.frame(param = key, power = pw, power_mcse = sqrt(pw * (1 - pw) / sum(ok)),
                                mean_est = rowMeans(E), sd_est = apply(E, 1, sd), mean_se = rowMeans(SE),
                                pop = pe_all$est[match(key, paste0(pe_all$lhs, pe_all$op, pe_all$rhs))],
                                stringsAsFactors = FALSE)),
       chisq_reject_rate = mean(FM[, "pvalue"] < 0.05),
       mean_fit = as.list(colMeans(FM)), sd_fit = as.list(apply(FM, 2, sd)),
       quantiles_fit = lapply(as.data.frame(FM), function(x) as.list(quantile(x, c(.05, .5, .95)))))
}
out$power <- list(
  description = paste("seed set once per N (set.seed(seed)), then n_rep times: d <- simulateData(population$model,",
                      "sample.nobs = N); sem(canonical model, d) with ML defaults; non-converged fits dropped;",
                      "power = share of converged fits with the parameterEstimates p-value (two-sided Wald z) < .05;",
                      "chisq_reject_rate = share with fitMeasures pvalue < .05; admissible = lavInspect(fit, 'post.check')"),
  N150 = power_run(150, 3150), N300 = power_run(300, 3300))

## ---- analytic RMSEA power (MacCallum, Browne & Sugawara 1996; semTools uses n - 1) ------------------
df_canon <- unname(fitMeasures(fit, "df"))
grid <- expand.grid(df = c(df_canon, 24, 10, 50, 2), n = c(100, 150, 200, 300, 500, 1000))
rows <- list()
for (i in seq_len(nrow(grid))) for (pair in list(c(.05, .08), c(.05, .01), c(0, .05))) {
  rows[[length(rows) + 1]] <- data.frame(rmsea0 = pair[1], rmseaA = pair[2], df = grid$df[i], n = grid$n[i],
      alpha = 0.05, group = 1, power = findRMSEApower(pair[1], pair[2], grid$df[i], grid$n[i], alpha = .05))
}
# two groups (semTools divides the noncentrality by the number of groups)
for (n in c(150, 300)) rows[[length(rows) + 1]] <- data.frame(rmsea0 = .05, rmseaA = .08, df = df_canon, n = n,
      alpha = 0.05, group = 2, power = findRMSEApower(.05, .08, df_canon, n, alpha = .05, group = 2))
# alpha .01
rows[[length(rows) + 1]] <- data.frame(rmsea0 = .05, rmseaA = .08, df = df_canon, n = 200, alpha = 0.01, group = 1,
      power = findRMSEApower(.05, .08, df_canon, 200, alpha = .01))
out$rmsea_power <- conv(do.call(rbind, rows))
rows <- list()
for (df in c(df_canon, 24, 10, 50, 2)) for (pair in list(c(.05, .08), c(.05, .01))) for (pw in c(.8, .9)) {
  n <- findRMSEAsamplesize(pair[1], pair[2], df, power = pw, alpha = .05)
  rows[[length(rows) + 1]] <- data.frame(rmsea0 = pair[1], rmseaA = pair[2], df = df, power = pw, alpha = .05,
      group = 1, n = as.numeric(n))
}
out$rmsea_samplesize <- list(
  rule = "smallest n on the integer grid 5, 6, ... with findRMSEApower(n) > power (strict); semTools returns n / group",
  table = conv(do.call(rbind, rows)))

## ---- Monte Carlo CI of the defined effects -----------------------------------------------------------
mc <- function(seed, standardized = FALSE) {
  set.seed(seed)
  t <- system.time(r <- monteCarloCI(fit, nRep = 20000, standardized = standardized))
  r <- as.data.frame(r); r$param <- rownames(r); rownames(r) <- NULL
  list(seed = seed, nRep = 20000, standardized = standardized, seconds = unname(t["elapsed"]),
       cpu_seconds = unname(t["user.self"] + t["sys.self"]), table = conv(r))
}
out$monte_carlo_ci <- list(
  method = paste("semTools::monteCarloCI(fit, nRep = 20000): draws MASS::mvrnorm(nRep, coef[c('a','b','c')],",
                 "vcov(fit)[c('a','b','c'), c('a','b','c')]) (ML expected-information vcov), evaluates ind = a*b and",
                 "total = c + a*b per draw, CI = quantile(type 7) at .025/.975"),
  vcov_abc = conv(vcov(fit)[c("a", "b", "c"), c("a", "b", "c")]),
  seed1 = mc(4001), seed2 = mc(4002), seed1_standardized = mc(4001, TRUE))

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$script_cpu_seconds <- unname(tt["user.self"] + tt["sys.self"])
out$load_average_at_end <- tryCatch(readLines("/proc/loadavg"), error = function(e) "")
write_ref(out, "power_reference.json")
cat("make_power.R done in", out$script_seconds, "s; N150", out$power$N150$seconds, "s; N300", out$power$N300$seconds, "s\n")
