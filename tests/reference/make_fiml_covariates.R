# FIML (missing = "ml") with exogenous observed covariates under lavaan's fixed.x = TRUE,
# lavaan 0.6.14. Run from this folder: Rscript make_fiml_covariates.R
# Writes fiml_covariates_reference.json: the fits (dump_fit), plus modindices() and
# lavPredict() (regression, Bartlett) of hs_mar_mimic, and MLR (robust FIML) fits (`*_mlr`). No new data files; the two derived data sets are
# made from committed files by rules a test can repeat:
#   hs_mar_x:   hs_mar.csv with ageyr set to NA where id %% 23 == 0 (grade is already NA once);
#   lc_missing_x: lc_missing.csv with private = 1 where sector == "private", else 0.
# lavaan deletes the cases with a missing covariate (a warning) and holds the covariates'
# means, variances and covariances at their sample values.
source("ref_common.R")

hs_mar <- read.csv("hs_mar.csv")
hs_mar_x <- hs_mar
hs_mar_x$ageyr[hs_mar_x$id %% 23 == 0] <- NA
lc_missing_x <- read.csv("lc_missing.csv")
lc_missing_x$private <- as.numeric(lc_missing_x$sector == "private")

mimic <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 visual + textual + speed ~ ageyr + grade '
mimic3 <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 visual ~ ageyr + sex
 textual ~ ageyr + grade
 speed ~ grade
 x9 ~ sex '
lc_cov <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture + private
 perf ~ b*kmsuse + c*culture + private
 ind := a*b '

datasets <- list(hs_mar = hs_mar, hs_mar_x = hs_mar_x, lc_missing_x = lc_missing_x)
files <- c(hs_mar = "hs_mar.csv", hs_mar_x = "hs_mar.csv", lc_missing_x = "lc_missing.csv")
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            derived = list(hs_mar_x = "hs_mar.csv; ageyr <- NA where id %% 23 == 0",
                           lc_missing_x = "lc_missing.csv; private <- as.numeric(sector == 'private')"),
            fits = list())
run <- function(name, model, data_name, ...) {
  opts <- list(...)
  warnings <- character(0)
  f <- withCallingHandlers(
    do.call("sem", c(list(model = model, data = datasets[[data_name]]), opts)),
    warning = function(w) { warnings <<- c(warnings, conditionMessage(w)); invokeRestart("muffleWarning") })
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = data_name, fun = "sem"), opts),
                                list(warnings = I(warnings)))
  invisible(f)
}
fits <- list()
fits$hs_mar_mimic <- run("hs_mar_mimic", mimic, "hs_mar", missing = "ml")
run("hs_mar_mimic_expected", mimic, "hs_mar", missing = "ml", information = "expected")
run("hs_mar_x_mimic3", mimic3, "hs_mar_x", missing = "ml")
run("lc_missing_x_private", lc_cov, "lc_missing_x", missing = "ml")
run("hs_mar_mimic_school", mimic, "hs_mar", missing = "ml", group = "school")
run("hs_mar_mimic_mlr", mimic, "hs_mar", missing = "ml", estimator = "MLR")
fits$mimic3_mlr <- run("hs_mar_x_mimic3_mlr", mimic3, "hs_mar_x", missing = "ml", estimator = "MLR")
mimic3_nested <- sub(" x9 ~ sex ", "", mimic3, fixed = TRUE)
fits$mimic3_nested_mlr <- run("hs_mar_x_mimic3_nested_mlr", mimic3_nested, "hs_mar_x", missing = "ml",
                              estimator = "MLR")
fits$mimic3_nested <- run("hs_mar_x_mimic3_nested", mimic3_nested, "hs_mar_x", missing = "ml")
run("hs_mar_mimic_school_mlr", mimic, "hs_mar", missing = "ml", estimator = "MLR", group = "school")
run("lc_missing_x_private_mlr", lc_cov, "lc_missing_x", missing = "ml", estimator = "MLR")
fits$mimic3 <- suppressWarnings(sem(mimic3, hs_mar_x, missing = "ml"))
lrt <- function(a, b, ...) lrt_table(fits[[a]], fits[[b]], model.names = c(a, b), ...)
out$lrt <- list(fiml = lrt("mimic3", "mimic3_nested"),
                mlr_sb2001 = lrt("mimic3_mlr", "mimic3_nested_mlr"),
                mlr_sb2010 = lrt("mimic3_mlr", "mimic3_nested_mlr", method = "satorra.bentler.2010"))
f <- fits$hs_mar_mimic
out$modindices_hs_mar_mimic <- conv(as.data.frame(modindices(f)))
out$factor_scores_hs_mar_mimic <- list(
  regression = conv(as.data.frame(lavPredict(f, method = "regression"))),
  bartlett = conv(as.data.frame(lavPredict(f, method = "Bartlett"))))
write_ref(out, "fiml_covariates_reference.json")
cat("make_fiml_covariates.R done\n")
