# GLS and ULS with groups and mean structures (issue 10, seam 3), lavaan 0.6.14.
# Run from this folder: Rscript make_ls_groups.R   (writes ls_groups_reference.json; seconds).
# No random numbers are drawn: the fits are deterministic (HS by school, hs.csv).
source("ref_common.R")

hs <- read.csv("hs.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
# a regression model with a fixed covariate-free structure and a latent mean comparison
hs_scalar_model <- hs_model

out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            data = list(hs = "hs.csv"), fits = list())
run <- function(name, model, ...) {
  opts <- list(...)
  f <- do.call("sem", c(list(model = model, data = hs), opts))
  out$fits[[name]] <<- dump_fit(f, model, c(list(data = "hs.csv", fun = "sem"), opts),
                                extra = list(fmin = unname(fitMeasures(f, "fmin")),
                                             chisq_group = I(as.numeric(lavInspect(f, "test")[[1]]$stat.group))))
  invisible(f)
}

for (est in c("GLS", "ULS")) {
  e <- tolower(est)
  run(paste0("hs_configural_", e), hs_model, estimator = est, group = "school")
  run(paste0("hs_metric_", e), hs_model, estimator = est, group = "school", group.equal = "loadings")
  run(paste0("hs_scalar_", e), hs_model, estimator = est, group = "school",
      group.equal = c("loadings", "intercepts"))
  run(paste0("hs_meanstructure_", e), hs_model, estimator = est, meanstructure = TRUE)
}

# lavTestLRT of the invariance sequences (lavaan's standard difference test for GLS and ULS)
fits <- list()
for (est in c("GLS", "ULS")) {
  e <- tolower(est)
  f <- lapply(list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts")),
              function(eq) sem(hs_model, data = hs, estimator = est, group = "school", group.equal = eq))
  out$lrt[[e]] <- lrt_table(f$configural, f$metric, f$scalar)
}

write_ref(out, "ls_groups_reference.json")
