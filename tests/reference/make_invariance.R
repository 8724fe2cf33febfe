# Measurement-invariance sequences beyond two groups and the four measurement levels
# (lcsem.invariance, issue 10), lavaan 0.6.14. Run from this folder: Rscript make_invariance.R
# (writes invariance_reference.json; a few seconds). No random numbers.
#
# - hs4: Holzinger-Swineford by school x sex (4 groups, labels "Pasteur 1", ... in order of
#   first appearance), levels configural, metric, scalar, strict, then + lv.variances,
#   + lv.covariances, + means (each adds its class to the level before it, as lcsem does);
#   lavTestLRT of the whole sequence; latent means (~1 rows of the factors) of the scalar fit.
# - hs_partial_loading: HS by school with "visual=~x2" released at metric and scalar.
source("ref_common.R")

hs <- read.csv("hs.csv")
hs$school_sex <- paste(hs$school, hs$sex)
model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "aic", "bic")

fit_level <- function(data, group, equal, partial = character(0)) {
  args <- list(model = model, data = data, group = group)
  if (length(equal)) args$group.equal <- equal
  if (length(partial)) args$group.partial <- partial
  do.call("cfa", args)
}
summary_of <- function(f, equal, partial) {
  pe <- parameterEstimates(f)
  lv <- pe[pe$op == "~1" & pe$lhs %in% c("visual", "textual", "speed"), ]
  list(group_equal = I(equal), group_partial = I(partial), group_labels = I(lavInspect(f, "group.label")),
       fit_measures = as.list(fitMeasures(f, measures)),
       latent_means = conv(lv[, c("lhs", "group", "est", "se", "z", "pvalue", "ci.lower", "ci.upper")]))
}

out <- list(lavaan_version = as.character(packageVersion("lavaan")), data = "hs.csv", model = model,
            sequences = list())

hs4_levels <- list(
  configural = character(0),
  metric = "loadings",
  scalar = c("loadings", "intercepts"),
  strict = c("loadings", "intercepts", "residuals"),
  lv.variances = c("loadings", "intercepts", "residuals", "lv.variances"),
  lv.covariances = c("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances"),
  means = c("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances", "means"))
fits <- lapply(hs4_levels, function(eq) fit_level(hs, "school_sex", eq))
out$sequences$hs4 <- list(group = "school_sex", group_from = "paste(school, sex)",
  levels = lapply(names(hs4_levels), function(n) c(list(level = n), summary_of(fits[[n]], hs4_levels[[n]], character(0)))),
  lrt = do.call(lrt_table, c(unname(fits), list(model.names = names(hs4_levels)))))

partial_levels <- list(configural = character(0), metric = "loadings", scalar = c("loadings", "intercepts"))
partial_of <- list(configural = character(0), metric = "visual=~x2", scalar = "visual=~x2")
pfits <- lapply(names(partial_levels), function(n) fit_level(hs, "school", partial_levels[[n]], partial_of[[n]]))
names(pfits) <- names(partial_levels)
out$sequences$hs_partial_loading <- list(group = "school", group_partial = "visual =~ x2",
  levels = lapply(names(partial_levels), function(n) c(list(level = n), summary_of(pfits[[n]], partial_levels[[n]], partial_of[[n]]))),
  lrt = do.call(lrt_table, c(unname(pfits), list(model.names = names(partial_levels)))))

write_ref(out, "invariance_reference.json")
cat("make_invariance.R done\n")
