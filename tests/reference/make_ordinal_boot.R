# Ordinal bootstrap reference (issue 12): lavaan 0.6.14's bootstrapLavaan on the canonical model
# fitted to the survey cut to 5 categories (lc_ordinal.csv, 15 items, N = 350), every item ordered,
# WLSMV (delta). Nonparametric, R = 1000, fixed seed. Per column: the bootstrap mean, SD and the
# percentile 95% bounds (quantile type 7) of the free parameters (coef order) and of the std.all
# loadings, regressions and the defined indirect effect, with the number of failed replicates.
# Then the same by sector (two groups, lavaan's default multi-group ordinal model; columns
# named "<lhs><op><rhs>@<group label>", R = 1000, its own seed): under "by_sector".
# Tests compare lcsem's bootstrap distribution with these within Monte Carlo error.
# Run from this folder: Rscript make_ordinal_boot.R   (writes ordinal_boot_reference.json)
suppressMessages({library(lavaan); library(jsonlite)})
t_script <- proc.time()
d <- read.csv("lc_ordinal.csv")
items <- c(paste0("culture", 1:6), paste0("kmsuse", 1:4), paste0("perf", 1:5))
model <- 'culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b'
fit <- sem(model, d[, items], ordered = items)
pt <- parTable(fit)
free <- pt[pt$free > 0, ]
coef_names <- paste0(free$lhs, free$op, free$rhs)
std_rows <- function(ss) ss$op %in% c("=~", "~", ":=")
ss0 <- standardizedSolution(fit, se = FALSE, zstat = FALSE, pvalue = FALSE, ci = FALSE)
std_names <- with(ss0[std_rows(ss0), ], ifelse(op == ":=", paste0("std:", lhs), paste0("std:", lhs, op, rhs)))
boot_fun <- function(x) {
  ss <- standardizedSolution(x, se = FALSE, zstat = FALSE, pvalue = FALSE, ci = FALSE)
  c(coef(x), ss$est.std[std_rows(ss)], lavInspect(x, "test")$standard$stat)
}
set.seed(20261128)
t0 <- proc.time()
B <- bootstrapLavaan(fit, R = 1000, type = "nonparametric", FUN = boot_fun)
tb <- proc.time() - t0
colnames(B) <- c(coef_names, std_names, "chisq")
ok <- stats::complete.cases(B)
Bok <- B[ok, , drop = FALSE]
summ <- lapply(colnames(Bok), function(nm) {
  x <- Bok[, nm]
  list(mean = mean(x), sd = sd(x), lower = unname(quantile(x, 0.025)), upper = unname(quantile(x, 0.975)))
})
names(summ) <- colnames(Bok)
est <- c(coef(fit), ss0$est.std[std_rows(ss0)], lavInspect(fit, "test")$standard$stat)
names(est) <- colnames(B)
## the same model by sector (2 groups, lavaan's default multi-group ordinal model), R = 1000
fit_g <- sem(model, d, ordered = items, group = "sector")
labels_g <- lavInspect(fit_g, "group.label")
pt_g <- parTable(fit_g)
free_g <- pt_g[pt_g$free > 0, ]
coef_g <- paste0(free_g$lhs, free_g$op, free_g$rhs, "@", labels_g[free_g$group])
ss0_g <- standardizedSolution(fit_g, se = FALSE, zstat = FALSE, pvalue = FALSE, ci = FALSE)
std_g <- with(ss0_g[std_rows(ss0_g), ], ifelse(op == ":=", paste0("std:", lhs),
                                               paste0("std:", lhs, op, rhs, "@", labels_g[pmax(group, 1)])))
set.seed(20261129)
t0 <- proc.time()
B_g <- bootstrapLavaan(fit_g, R = 1000, type = "nonparametric", FUN = boot_fun)
tb_g <- proc.time() - t0
colnames(B_g) <- c(coef_g, std_g, "chisq")
ok_g <- stats::complete.cases(B_g)
summ_g <- lapply(colnames(B_g), function(nm) {
  x <- B_g[ok_g, nm]
  list(mean = mean(x), sd = sd(x), lower = unname(quantile(x, 0.025)), upper = unname(quantile(x, 0.975)))
})
names(summ_g) <- colnames(B_g)
by_sector <- list(R = 1000, seed = 20261129, group = "sector", group_labels = labels_g, n_ok = sum(ok_g),
                  n_failed = sum(!ok_g), columns = summ_g, seconds = unname(tb_g[["elapsed"]]),
                  cpu_seconds = unname(tb_g[["user.self"]] + tb_g[["sys.self"]]))

out <- list(
  lavaan_version = as.character(packageVersion("lavaan")), R = 1000, seed = 20261128,
  data = "lc_ordinal.csv", model = model, ordered = items, estimator = "WLSMV",
  n_ok = sum(ok), n_failed = sum(!ok), estimate = as.list(est), columns = summ,
  seconds = unname(tb[["elapsed"]]), cpu_seconds = unname(tb[["user.self"]] + tb[["sys.self"]]),
  by_sector = by_sector,
  load_average_at_end = as.numeric(strsplit(readLines("/proc/loadavg"), " ")[[1]][1]),
  script_seconds = unname((proc.time() - t_script)[["elapsed"]]))
write_json(out, "ordinal_boot_reference.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
