# FIML (missing = "ml") and robust ML (MLM, MLMV, MLMVS, MLR) references (issue 11), lavaan 0.6.14.
# Run from this folder: Rscript make_missing_robust.R
# Writes hs_mcar.csv, hs_mar.csv, lc_missing.csv and missing_robust_reference.json.
source("ref_common.R")
t_script <- proc.time()

hs <- read.csv("hs.csv")
lc <- read.csv("lc_shared.csv")
xs <- paste0("x", 1:9)
items <- c(paste0("culture", 1:6), paste0("kmsuse", 1:4), paste0("perf", 1:5))

## ---- the missing-data sets -----------------------------------------------------------------
# HS-MCAR: every x1..x9 value deleted independently with probability .08.
set.seed(1101)
U <- matrix(runif(nrow(hs) * 9), nrow(hs), 9)          # filled column by column (x1 first)
hs_mcar <- hs
for (j in 1:9) hs_mcar[[xs[j]]][U[, j] < 0.08] <- NA
write.csv(hs_mcar, "hs_mcar.csv", row.names = FALSE, na = "")

# HS-MAR: x1, x4, x7 always observed; x2, x3 deleted with probability plogis(-2 + 1.5 z1),
# x5, x6 with plogis(-2 + 1.5 z4), x8, x9 with plogis(-2 + 1.5 z7), z = (x - mean) / sd (sd with N-1)
# of the always-observed predictor; uniforms drawn as one 301 x 6 matrix, column order x2 x3 x5 x6 x8 x9.
set.seed(1102)
U <- matrix(runif(nrow(hs) * 6), nrow(hs), 6)
hs_mar <- hs
targets <- c("x2", "x3", "x5", "x6", "x8", "x9")
drivers <- c("x1", "x1", "x4", "x4", "x7", "x7")
for (j in 1:6) {
  z <- (hs[[drivers[j]]] - mean(hs[[drivers[j]]])) / sd(hs[[drivers[j]]])
  hs_mar[[targets[j]]][U[, j] < plogis(-2 + 1.5 * z)] <- NA
}
write.csv(hs_mar, "hs_mar.csv", row.names = FALSE, na = "")

# LC-missing: (1) every item value deleted independently with probability .05 (uniforms as
# one 350 x 15 matrix in item order); (2) 12 rows (sample(350, 12) after the uniforms) lose
# the whole perf block; (3) the next 8 rows drawn (sample(setdiff(1:350, those 12), 8)) lose
# the whole kmsuse block; (4) rows 7 and 123 lose every item (lavaan drops them: norig 350, nobs 348).
set.seed(1103)
U <- matrix(runif(nrow(lc) * 15), nrow(lc), 15)
lc_miss <- lc
for (j in 1:15) lc_miss[[items[j]]][U[, j] < 0.05] <- NA
rows_perf <- sample(nrow(lc), 12)
rows_kms <- sample(setdiff(seq_len(nrow(lc)), rows_perf), 8)
lc_miss[rows_perf, paste0("perf", 1:5)] <- NA
lc_miss[rows_kms, paste0("kmsuse", 1:4)] <- NA
lc_miss[c(7, 123), items] <- NA
write.csv(lc_miss, "lc_missing.csv", row.names = FALSE, na = "")

## ---- models -----------------------------------------------------------------------------------
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
# nested in hs_model: equal loadings of x5, x6 and of x8, x9 (df + 2)
hs_nested <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + l5*x5 + l5*x6
 speed =~ x7 + l8*x8 + l8*x9 '
lc_canonical <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '
# nested in lc_canonical: no direct culture -> perf path (df + 1)
lc_nested <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse
 ind := a*b '

datasets <- list(hs = hs, hs_mcar = hs_mcar, hs_mar = hs_mar, lc = lc, lc_missing = lc_miss)
files <- c(hs = "hs.csv", hs_mcar = "hs_mcar.csv", hs_mar = "hs_mar.csv", lc = "lc_shared.csv",
           lc_missing = "lc_missing.csv")
fits <- list()
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            data = as.list(files), fits = list())

extras <- function(f) {
  x <- list(test = conv(lavInspect(f, "test")))
  labels <- lavInspect(f, "group.label"); glab <- if (length(labels)) labels else "1"
  if (lavInspect(f, "options")$missing %in% c("ml", "ml.x")) {
    x$h1 <- per_group(lavInspect(f, "h1"), glab)
    x$coverage <- per_group(lavInspect(f, "coverage"), glab)
    x$patterns <- per_group(lavInspect(f, "patterns"), glab)
    x$empty_idx <- per_group(lavInspect(f, "empty.idx"), glab)
    x$pattern_freq <- setNames(lapply(f@Data@Mp, function(mp) I(as.integer(mp$freq))), glab)
    x$loglik_casewise <- per_group(lavInspect(f, "loglik.casewise"), glab)
  }
  g <- tryCatch(lavInspect(f, "gamma"), error = function(e) NULL)
  if (!is.null(g)) {
    gl <- if (is.list(g)) g else list(g)
    x$gamma_dim <- lapply(gl, function(m) I(dim(m)))
  }
  x
}

run <- function(name, model, data_name, ...) {
  opts <- list(...)
  f <- do.call("sem", c(list(model = model, data = datasets[[data_name]]), opts))
  fits[[name]] <<- f
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = files[[data_name]], fun = "sem"), opts), extras(f))
  invisible(f)
}

## ---- FIML and listwise on the missing-data sets --------------------------------------------
for (d in c("hs_mcar", "hs_mar")) {
  run(paste0(d, "_fiml"), hs_model, d, missing = "ml")
  run(paste0(d, "_fiml_expected"), hs_model, d, missing = "ml", information = "expected")
  run(paste0(d, "_listwise"), hs_model, d)
  run(paste0(d, "_mlr_fiml"), hs_model, d, missing = "ml", estimator = "MLR")
  run(paste0(d, "_fiml_nested"), hs_nested, d, missing = "ml")
  run(paste0(d, "_mlr_fiml_nested"), hs_nested, d, missing = "ml", estimator = "MLR")
}
run("lc_missing_fiml", lc_canonical, "lc_missing", missing = "ml")
run("lc_missing_fiml_expected", lc_canonical, "lc_missing", missing = "ml", information = "expected")
run("lc_missing_listwise", lc_canonical, "lc_missing")
run("lc_missing_mlr_fiml", lc_canonical, "lc_missing", missing = "ml", estimator = "MLR")
run("lc_missing_fiml_nested", lc_nested, "lc_missing", missing = "ml")
run("lc_missing_mlr_fiml_nested", lc_nested, "lc_missing", missing = "ml", estimator = "MLR")
# FIML with groups (the bootstrap/ groups seam): HS-MCAR by school
run("hs_mcar_fiml_school", hs_model, "hs_mcar", missing = "ml", group = "school")
## ---- robust ML on complete data ---------------------------------------------------------------
for (e in c("MLM", "MLR", "MLMV", "MLMVS")) {
  run(paste0("hs_", tolower(e)), hs_model, "hs", estimator = e)
  run(paste0("hs_", tolower(e), "_nested"), hs_nested, "hs", estimator = e)
}
run("hs_ml", hs_model, "hs")
run("hs_ml_nested", hs_nested, "hs")
for (e in c("MLM", "MLR")) {
  run(paste0("lc_", tolower(e)), lc_canonical, "lc", estimator = e)
  run(paste0("lc_", tolower(e), "_nested"), lc_nested, "lc", estimator = e)
}
run("lc_mlr_sector", lc_canonical, "lc", estimator = "MLR", group = "sector")
out$fits$hs_mlm$gamma <- conv(lavInspect(fits$hs_mlm, "gamma"))

## ---- nested-model tests ---------------------------------------------------------------------------
lrt <- function(a, b, ...) lrt_table(fits[[a]], fits[[b]], model.names = c(a, b), ...)
out$lrt <- list(
  hs_ml = lrt("hs_ml", "hs_ml_nested"),
  hs_mlm_sb2001 = lrt("hs_mlm", "hs_mlm_nested"),
  hs_mlm_sb2010 = lrt("hs_mlm", "hs_mlm_nested", method = "satorra.bentler.2010"),
  hs_mlr_sb2001 = lrt("hs_mlr", "hs_mlr_nested"),
  hs_mlr_sb2010 = lrt("hs_mlr", "hs_mlr_nested", method = "satorra.bentler.2010"),
  hs_mlmv_default = tryCatch(lrt("hs_mlmv", "hs_mlmv_nested"), error = function(e) list(error = conditionMessage(e))),
  lc_mlm_sb2001 = lrt("lc_mlm", "lc_mlm_nested"),
  lc_mlm_sb2010 = lrt("lc_mlm", "lc_mlm_nested", method = "satorra.bentler.2010"),
  lc_mlr_sb2001 = lrt("lc_mlr", "lc_mlr_nested"),
  lc_mlr_sb2010 = lrt("lc_mlr", "lc_mlr_nested", method = "satorra.bentler.2010"),
  hs_mcar_fiml = lrt("hs_mcar_fiml", "hs_mcar_fiml_nested"),
  hs_mar_fiml = lrt("hs_mar_fiml", "hs_mar_fiml_nested"),
  hs_mcar_mlr_fiml_sb2001 = lrt("hs_mcar_mlr_fiml", "hs_mcar_mlr_fiml_nested"),
  hs_mcar_mlr_fiml_sb2010 = lrt("hs_mcar_mlr_fiml", "hs_mcar_mlr_fiml_nested", method = "satorra.bentler.2010"),
  hs_mar_mlr_fiml_sb2001 = lrt("hs_mar_mlr_fiml", "hs_mar_mlr_fiml_nested"),
  lc_missing_fiml = lrt("lc_missing_fiml", "lc_missing_fiml_nested"),
  lc_missing_mlr_fiml_sb2001 = lrt("lc_missing_mlr_fiml", "lc_missing_mlr_fiml_nested"),
  lc_missing_mlr_fiml_sb2010 = lrt("lc_missing_mlr_fiml", "lc_missing_mlr_fiml_nested", method = "satorra.bentler.2010"))

## ---- FIML bootstrap (HS-MCAR) ----------------------------------------------------------------
boot_stat <- function(x) c(coef(x), fitMeasures(x, c("chisq", "cfi", "tli", "rmsea", "srmr")))
bt <- system.time(b <- bootstrapLavaan(fits$hs_mcar_fiml, R = 1000, FUN = boot_stat, iseed = 20262))
ok <- stats::complete.cases(b)
pct <- apply(b, 2, function(x) as.numeric(quantile(x, c(.025, .975), na.rm = TRUE)))
out$bootstrap_hs_mcar_fiml <- list(
  fit = "hs_mcar_fiml", R = 1000, iseed = 20262, type = "ordinary (case resampling, FIML refit)",
  fun = "c(coef(x), fitMeasures(x, c('chisq','cfi','tli','rmsea','srmr')))", quantile_type = 7,
  n_ok = sum(ok), seconds = unname(bt["elapsed"]),
  cpu_seconds = unname(bt["user.self"] + bt["sys.self"]),
  names = I(names(boot_stat(fits$hs_mcar_fiml))), estimate = I(unname(boot_stat(fits$hs_mcar_fiml))),
  pct_2.5 = I(unname(pct[1, ])), pct_97.5 = I(unname(pct[2, ])),
  mean = I(unname(colMeans(b, na.rm = TRUE))), sd = I(unname(apply(b, 2, sd, na.rm = TRUE))))

out$missing_summary <- lapply(list(hs_mcar = hs_mcar, hs_mar = hs_mar, lc_missing = lc_miss), function(d) {
  v <- intersect(c(xs, items), names(d))
  list(missing_per_column = as.list(colSums(is.na(d[, v]))), complete_rows = sum(complete.cases(d[, v])),
       rows_all_missing = sum(rowSums(!is.na(d[, v])) == 0))
})
tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$script_cpu_seconds <- unname(tt["user.self"] + tt["sys.self"])
out$load_average_at_end <- tryCatch(readLines("/proc/loadavg"), error = function(e) "")
write_ref(out, "missing_robust_reference.json")
cat("make_missing_robust.R done in", out$script_seconds, "s; FIML bootstrap", unname(bt["elapsed"]), "s\n")
