# Estimates and fit measures of multi-group ordinal fits whose parameter tables
# ordinal_spec_reference.json holds (helper ordspec's cases: group.equal = "thresholds" with the
# delta and theta parameterisations, group.partial of thresholds, std.lv, mixed data), so that
# the model side of issue 12 (helper ordmodel) is checked on them. lavaan 0.6.14.
# Run from this folder: Rscript make_ordinal_model.R (reads ordinal_spec_reference.json,
# ordinal_sim.csv, lc_ordinal.csv; writes ordinal_model_reference.json).
source("ref_common.R")
spec <- fromJSON("ordinal_spec_reference.json", simplifyVector = FALSE)
sim <- read.csv("ordinal_sim.csv")
sim$half <- ifelse(seq_len(nrow(sim)) %% 2 == 1, "odd", "even")   # spec's derived_groups$half
lc <- read.csv("lc_ordinal.csv")
datasets <- list(sim = sim, lc = lc)
files <- c(sim = "ordinal_sim.csv", lc = "lc_ordinal.csv")
cases <- c("lc_thresholds", "lc_thresholds_theta", "lc_th_load_int_theta", "lc_th_partial",
           "lc_std_lv_th_loadings", "lc_th_residuals_theta", "sim_groups_theta_configural",
           "sim_mixed_groups_equal")
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            note = "models and options: ordinal_spec_reference.json$cases; sim group 'half' = odd/even rows",
            fits = list())
for (name in cases) {
  cs <- spec$cases[[name]]
  o <- cs$options
  args <- list(model = cs$model, data = datasets[[o$data]], ordered = unlist(o$ordered))
  if (!is.null(o$group)) args$group <- o$group
  if (!is.null(o$group.equal)) args$group.equal <- unlist(o$group.equal)
  if (!is.null(o$group.partial)) args$group.partial <- unlist(o$group.partial)
  if (!is.null(o$parameterization)) args$parameterization <- o$parameterization
  if (!is.null(o$std.lv)) args$std.lv <- isTRUE(o$std.lv)
  f <- do.call("cfa", args)
  opts <- o; opts$data <- files[[o$data]]
  out$fits[[name]] <- dump_fit(f, cs$model, opts, list(test = conv(lavInspect(f, "test"))))
}
write_ref(out, "ordinal_model_reference.json")
