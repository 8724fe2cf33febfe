# MLR with missing = "ml" by group (issue 11, lavaan 0.6.14): HS-MCAR (hs_mcar.csv, written by
# make_missing_robust.R) by school, configural and metric, and their SB2001/SB2010 tests.
# Run from this folder: Rscript make_mlr_fiml.R  -> mlr_fiml_reference.json
source("ref_common.R")
t_script <- proc.time()
hs_mcar <- read.csv("hs_mcar.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
out <- list(lavaan_version = as.character(packageVersion("lavaan")), fits = list(), lrt = list())
fits <- list()
run <- function(name, ...) {
  opts <- list(...)
  f <- do.call("sem", c(list(model = hs_model, data = hs_mcar), opts))
  fits[[name]] <<- f
  out$fits[[name]] <<- dump_fit(f, hs_model, c(list(data = "hs_mcar.csv", fun = "sem"), opts),
                                list(test = conv(lavInspect(f, "test"))))
}
run("hs_mcar_mlr_fiml_school", missing = "ml", estimator = "MLR", group = "school")
run("hs_mcar_mlr_fiml_school_metric", missing = "ml", estimator = "MLR", group = "school",
    group.equal = "loadings")
out$lrt$hs_mcar_mlr_fiml_school_sb2001 <- lrt_table(fits$hs_mcar_mlr_fiml_school,
                                                    fits$hs_mcar_mlr_fiml_school_metric,
                                                    model.names = c("hs_mcar_mlr_fiml_school",
                                                                    "hs_mcar_mlr_fiml_school_metric"))
out$lrt$hs_mcar_mlr_fiml_school_sb2010 <- lrt_table(fits$hs_mcar_mlr_fiml_school,
                                                    fits$hs_mcar_mlr_fiml_school_metric,
                                                    method = "satorra.bentler.2010",
                                                    model.names = c("hs_mcar_mlr_fiml_school",
                                                                    "hs_mcar_mlr_fiml_school_metric"))
out$script_cpu_seconds <- unname(sum((proc.time() - t_script)[c("user.self", "sys.self")]))
write_ref(out, "mlr_fiml_reference.json")
