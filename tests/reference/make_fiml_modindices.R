# FIML (missing = "ml") modification indices, lavaan 0.6.14 (issue 11).
# Run from this folder: Rscript make_fiml_modindices.R   (a few seconds)
# Writes fiml_modindices_reference.json (also semTools reliability of the LC-missing FIML CFA
# and lavPredict factor scores): modindices(fit) (all rows lavaan reports) of the
# HS-MCAR and LC-missing FIML fits with observed information (lavaan's default for FIML)
# of HS-MCAR with information = "expected" and by school (configural, equal loadings); and lavPredict() factor scores of the
# HS-MCAR FIML fit (regression and Bartlett).
source("ref_common.R")
hs_mcar <- read.csv("hs_mcar.csv"); lc_miss <- read.csv("lc_missing.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
lc_canonical <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '
fits <- list(
  hs_mcar_fiml = list(model = hs_model, data = "hs_mcar.csv",
                      fit = sem(hs_model, hs_mcar, missing = "ml")),
  hs_mcar_fiml_expected = list(model = hs_model, data = "hs_mcar.csv", information = "expected",
                               fit = sem(hs_model, hs_mcar, missing = "ml", information = "expected")),
  lc_missing_fiml = list(model = lc_canonical, data = "lc_missing.csv",
                         fit = suppressWarnings(sem(lc_canonical, lc_miss, missing = "ml"))),
  hs_mcar_fiml_school = list(model = hs_model, data = "hs_mcar.csv", group = "school",
                             fit = sem(hs_model, hs_mcar, missing = "ml", group = "school")),
  hs_mcar_fiml_school_metric = list(model = hs_model, data = "hs_mcar.csv", group = "school",
                                    group_equal = "loadings",
                                    fit = sem(hs_model, hs_mcar, missing = "ml", group = "school",
                                              group.equal = "loadings")))
out <- list(lavaan_version = as.character(packageVersion("lavaan")), fits = list())
for (name in names(fits)) {
  f <- fits[[name]]
  mi <- modindices(f$fit)
  out$fits[[name]] <- list(model = f$model, data = f$data, group = f$group, group_equal = f$group_equal,
                           information = if (is.null(f$information)) "observed" else f$information,
                           modindices = conv(as.data.frame(mi)))
}
write_ref(out, "fiml_modindices_reference.json")
# semTools reliability of the LC-missing measurement model fitted by FIML (cfa, missing = "ml")
suppressMessages(library(semTools))
lc_cfa <- suppressWarnings(cfa(' culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf =~ perf1 + perf2 + perf3 + perf4 + perf5 ', lc_miss, missing = "ml"))
out$reliability_lc_missing_fiml <- list(omega = as.list(compRelSEM(lc_cfa)),
                                        alpha = as.list(compRelSEM(lc_cfa, tau.eq = TRUE)),
                                        ave = as.list(AVE(lc_cfa)))
# factor scores (lavPredict, regression and Bartlett) of the HS-MCAR FIML fit, one row per case
out$factor_scores_hs_mcar_fiml <- list(
  regression = conv(as.data.frame(lavPredict(fits$hs_mcar_fiml$fit, method = "regression"))),
  bartlett = conv(as.data.frame(lavPredict(fits$hs_mcar_fiml$fit, method = "Bartlett"))))
write_ref(out, "fiml_modindices_reference.json")
