# Parameter tables (no fitting) for lcsem's ordinal spec layer (issue 12): lavaan 0.6.14's
# parTable of models with ordered indicators not covered by make_ordinal.R: thresholds and
# scaling factors written with modifiers, lavaan's own group.equal = "thresholds" (delta and
# theta, with loadings, intercepts, means, residuals, group.partial of a threshold, std.lv),
# c() modifiers on thresholds, mixed ordered/continuous indicators in two groups, and
# continuous covariates (lavaan's conditional.x = TRUE with ordered indicators).
# Groups of ordinal_sim.csv: "odd"/"even" rows (row 1 is odd).
# Run from this folder: Rscript make_ordinal_spec.R   (writes ordinal_spec_reference.json)
source("ref_common.R")
sim <- read.csv("ordinal_sim.csv")
sim$half <- ifelse(seq_len(nrow(sim)) %% 2 == 1, "odd", "even")
lc <- read.csv("lc_ordinal.csv")
sim_items <- paste0("y", 1:8)
lc_items <- c(paste0("culture", 1:6), paste0("kmsuse", 1:4), paste0("perf", 1:5))
sim_model <- ' f1 =~ y1 + y2 + y3 + y4
 f2 =~ y5 + y6 + y7 + y8 '
lc_model <- ' culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5 '
written <- paste(sim_model, '
 y1 | 0*t1 + a*t2 + NA*t3
 y7 | b*t1
 y8 | b*t1 + start(0.3)*t2
 y5 ~*~ y5
 y6 ~*~ 1*y6
 y2 ~~ y2
 y3 ~ 1
 y4 ~ 0.5*1 ')
mixed <- ' f1 =~ y1 + y2 + y3 + y4 + c1
 f2 =~ y5 + y6 + y7 + y8 + c2 '
cases <- list(
  sim_written = list(data = "sim", model = written),
  sim_written_theta = list(data = "sim", model = written, parameterization = "theta"),
  sim_mixed_groups_equal = list(data = "sim", model = mixed, group = "half",
                                group.equal = c("thresholds", "loadings", "intercepts")),
  sim_groups_theta_configural = list(data = "sim", model = sim_model, group = "half",
                                     parameterization = "theta"),
  sim_c_thresholds = list(data = "sim", model = paste(sim_model, '
 y1 | c(0, NA)*t1 + c(t12a, t12b)*t2
 y2 | c(u, u)*t1
 y3 ~*~ c(1, NA)*y3
 y4 ~~ c(1, NA)*y4 '), group = "half"),
  lc_thresholds = list(data = "lc", model = lc_model, group = "sector", group.equal = "thresholds"),
  lc_thresholds_theta = list(data = "lc", model = lc_model, group = "sector", group.equal = "thresholds",
                             parameterization = "theta"),
  lc_thresholds_loadings = list(data = "lc", model = lc_model, group = "sector",
                                group.equal = c("thresholds", "loadings")),
  lc_th_load_int = list(data = "lc", model = lc_model, group = "sector",
                        group.equal = c("thresholds", "loadings", "intercepts")),
  lc_th_load_int_theta = list(data = "lc", model = lc_model, group = "sector",
                              group.equal = c("thresholds", "loadings", "intercepts"),
                              parameterization = "theta"),
  lc_th_load_means = list(data = "lc", model = lc_model, group = "sector",
                          group.equal = c("thresholds", "loadings", "means")),
  lc_th_partial = list(data = "lc", model = lc_model, group = "sector",
                       group.equal = c("thresholds", "loadings"),
                       group.partial = c("culture1|t2", "perf3 | t4", "kmsuse =~ kmsuse3")),
  lc_th_residuals_theta = list(data = "lc", model = lc_model, group = "sector",
                               group.equal = c("thresholds", "loadings", "residuals"),
                               parameterization = "theta"),
  lc_std_lv_th_loadings = list(data = "lc", model = lc_model, group = "sector", std.lv = TRUE,
                               group.equal = c("thresholds", "loadings")),
  lc_loadings_only = list(data = "lc", model = lc_model, group = "sector", group.equal = "loadings"),
  sim_mimic = list(data = "sim", model = paste(sim_model, '
 f1 ~ c1 + c2
 f2 ~ c2 + f1 ')),
  sim_mimic_groups = list(data = "sim", model = paste(sim_model, '
 f1 ~ c1 + c2
 y8 ~ c1 '), group = "half", group.equal = c("thresholds", "loadings", "regressions"))
)
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            data = list(sim = "ordinal_sim.csv", lc = "lc_ordinal.csv"),
            derived_groups = list(half = "odd for rows 1, 3, 5, ... of ordinal_sim.csv, even otherwise"),
            ordered = list(sim = I(sim_items), lc = I(lc_items)),
            cases = list())
for (name in names(cases)) {
  args <- cases[[name]]
  data <- if (args$data == "sim") sim else lc
  ordered <- if (args$data == "sim") sim_items else lc_items
  f <- do.call("cfa", c(list(data = data, ordered = ordered, do.fit = FALSE),
                        args[setdiff(names(args), "data")]))
  pt <- parTable(f)
  out$cases[[name]] <- list(model = args$model, options = c(args[setdiff(names(args), "model")],
                                                            list(ordered = I(ordered))),
                            ngroups = lavInspect(f, "ngroups"),
                            group_labels = I(lavInspect(f, "group.label")),
                            npar = sum(pt$free > 0),
                            partable = conv(pt[, c("lhs", "op", "rhs", "group", "free", "ustart",
                                                   "exo", "label", "plabel", "user")]))
}
write_ref(out, "ordinal_spec_reference.json")
cat("make_ordinal_spec.R done\n")
