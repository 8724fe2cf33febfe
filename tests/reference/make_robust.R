# Robust ML on complete data (issue 11 items 2-3), complementing make_missing_robust.R:
# mean structures, multi-group MLM/MLMV/MLMVS/MLR with equality constraints, and scaled
# difference tests between multi-group models. lavaan 0.6.14. Fixed data (hs.csv,
# lc_shared.csv), no randomness. Run from this folder: Rscript make_robust.R
# Writes robust_reference.json.
source("ref_common.R")
t_script <- proc.time()

hs <- read.csv("hs.csv")
lc <- read.csv("lc_shared.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
lc_cfa <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5 '

datasets <- list(hs = hs, lc = lc)
files <- c(hs = "hs.csv", lc = "lc_shared.csv")
fits <- list()
out <- list(lavaan_version = as.character(packageVersion("lavaan")), data = as.list(files), fits = list())

run <- function(name, model, data_name, ...) {
  opts <- list(...)
  f <- do.call("sem", c(list(model = model, data = datasets[[data_name]]), opts))
  fits[[name]] <<- f
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = files[[data_name]], fun = "sem"), opts),
                                list(test = conv(lavInspect(f, "test"))))
  invisible(f)
}

## one group with a mean structure
for (e in c("MLM", "MLR", "MLMV", "MLMVS")) {
  run(paste0("hs_", tolower(e), "_means"), hs_model, "hs", estimator = e, meanstructure = TRUE)
}
## multi-group (HS by school): configural and metric, every robust estimator
for (e in c("MLM", "MLR", "MLMV", "MLMVS")) {
  run(paste0("hs_", tolower(e), "_configural"), hs_model, "hs", estimator = e, group = "school")
  run(paste0("hs_", tolower(e), "_metric"), hs_model, "hs", estimator = e, group = "school",
      group.equal = "loadings")
}
run("hs_mlr_scalar", hs_model, "hs", estimator = "MLR", group = "school",
    group.equal = c("loadings", "intercepts"))
## the survey's measurement model by sector (MLM), configural and metric
run("lc_mlm_configural", lc_cfa, "lc", estimator = "MLM", group = "sector")
run("lc_mlm_metric", lc_cfa, "lc", estimator = "MLM", group = "sector", group.equal = "loadings")

## a saturated model (df = 0): lavaan's NA / 0 / 1 conventions of the scaled and robust indices
for (e in c("MLM", "MLR", "MLMV")) {
  run(paste0("hs_", tolower(e), "_saturated"), "visual =~ x1 + x2 + x3", "hs", estimator = e)
}
## observed exogenous covariates (fixed.x = TRUE, lavaan's default): a MIMIC model
hs_mimic <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 visual ~ ageyr + sex
 textual ~ ageyr '
for (e in c("MLM", "MLR", "MLMV")) {
  run(paste0("hs_mimic_", tolower(e)), hs_mimic, "hs", estimator = e)
}
run("hs_mimic_mlr_school", hs_mimic, "hs", estimator = "MLR", group = "school")
# nested in hs_mimic: no age effect on textual (df + 1)
hs_mimic_nested <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 visual ~ ageyr + sex
 textual ~ 0*ageyr '
for (e in c("MLM", "MLR", "MLMV")) {
  run(paste0("hs_mimic_", tolower(e), "_nested"), hs_mimic_nested, "hs", estimator = e)
}

lrt <- function(a, b, ...) lrt_table(fits[[a]], fits[[b]], model.names = c(a, b), ...)
out$lrt <- list(
  hs_mlm_metric_sb2001 = lrt("hs_mlm_configural", "hs_mlm_metric"),
  hs_mlm_metric_sb2010 = lrt("hs_mlm_configural", "hs_mlm_metric", method = "satorra.bentler.2010"),
  hs_mlr_metric_sb2001 = lrt("hs_mlr_configural", "hs_mlr_metric"),
  hs_mlr_metric_sb2010 = lrt("hs_mlr_configural", "hs_mlr_metric", method = "satorra.bentler.2010"),
  hs_mlr_scalar_sb2001 = lrt("hs_mlr_metric", "hs_mlr_scalar"),
  hs_mlr_scalar_sb2010 = lrt("hs_mlr_metric", "hs_mlr_scalar", method = "satorra.bentler.2010"),
  lc_mlm_metric_sb2001 = lrt("lc_mlm_configural", "lc_mlm_metric"),
  lc_mlm_metric_sb2010 = lrt("lc_mlm_configural", "lc_mlm_metric", method = "satorra.bentler.2010"),
  # MLMV/MLMVS: lavaan's default satorra.2000 (scaled and shifted); MLM with it on request
  hs_mlmv_metric_s2000 = lrt("hs_mlmv_configural", "hs_mlmv_metric"),
  hs_mlmvs_metric_s2000 = lrt("hs_mlmvs_configural", "hs_mlmvs_metric"),
  hs_mlm_metric_s2000 = lrt("hs_mlm_configural", "hs_mlm_metric", method = "satorra.2000"),
  # with fixed.x covariates
  hs_mimic_mlm_sb2001 = lrt("hs_mimic_mlm", "hs_mimic_mlm_nested"),
  hs_mimic_mlr_sb2010 = lrt("hs_mimic_mlr", "hs_mimic_mlr_nested", method = "satorra.bentler.2010"),
  hs_mimic_mlmv_s2000 = lrt("hs_mimic_mlmv", "hs_mimic_mlmv_nested"))

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
out$script_cpu_seconds <- unname(tt["user.self"] + tt["sys.self"])
write_ref(out, "robust_reference.json")
cat("make_robust.R done in", out$script_seconds, "s\n")
