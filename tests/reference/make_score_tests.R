# Score tests (lavTestScore) and modification indices (modindices) beyond make_groups.R:
# labelled and shared-label constraints, three groups, single-group shared labels and mean
# structures, constrained multi-group models. lavaan 0.6.14.
# Run from this folder: Rscript make_score_tests.R   (writes score_tests_reference.json)
source("ref_common.R")

hs <- read.csv("hs.csv")
# three groups of about 100 children by age (Python: tests/test_score_tests.py builds the same column)
hs$age3 <- ifelse(hs$ageyr <= 12, "young", ifelse(hs$ageyr == 13, "thirteen", "older"))
lc <- read.csv("lc_shared.csv")
data_of <- list(hs = hs, lc = lc)

hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '

cases <- list(
  hs_labelled = list(data = "hs", group = "school", model = ' visual =~ x1 + c(a1, a1)*x2 + c(1, NA)*x3
 textual =~ x4 + c(b1, b2)*x5 + x6
 speed =~ x7 + x8 + x9
 x9 ~~ c(v9, v9)*x9
 x4 ~ c(i4, i4)*1
 dl := b1 - b2 '),
  lc_labels_shared = list(data = "lc", group = "sector", model = '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b '),
  hs_single_labels = list(data = "hs", model = ' visual =~ x1 + a*x2 + a*x3
 textual =~ x4 + b*x5 + b*x6
 speed =~ x7 + x8 + x9 '),
  hs_single_intercepts = list(data = "hs", model = ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 x1 ~ 0*1
 visual ~ 1
 x8 ~ i89*1
 x9 ~ i89*1 '),
  hs3_metric = list(data = "hs", group = "age3", group.equal = "loadings", model = hs_model),
  hs3_configural = list(data = "hs", group = "age3", model = hs_model),
  hs_metric = list(data = "hs", group = "school", group.equal = "loadings", model = hs_model),
  hs_covariates = list(data = "hs", group = "school", group.equal = c("loadings", "regressions"), model = ' f =~ x1 + x2 + x3 + x4
 f ~ ageyr + grade
 x4 ~ ageyr '),
  hs_covariates_means = list(data = "hs", meanstructure = TRUE, model = ' f =~ x1 + x2 + x3 + x4
 f ~ ageyr + grade
 x4 ~ ageyr '),
  hs_scalar = list(data = "hs", group = "school", group.equal = c("loadings", "intercepts"), model = hs_model)
)

score_tests <- function(fit) {
  if (nrow(fit@Model@con.jac) == 0L) return(NULL)
  st <- lavTestScore(fit, univariate = TRUE, cumulative = TRUE, epc = FALSE)
  pt <- parTable(fit)
  annotate <- function(d) {
    d <- as.data.frame(d); class(d) <- "data.frame"
    for (side in c("lhs", "rhs")) {
      i <- match(d[[side]], pt$plabel)
      d[[paste0(side, ".lhs")]] <- pt$lhs[i]
      d[[paste0(side, ".op")]] <- pt$op[i]
      d[[paste0(side, ".rhs")]] <- pt$rhs[i]
      d[[paste0(side, ".group")]] <- pt$group[i]
    }
    d
  }
  list(total = conv(as.data.frame(st$test)), univariate = conv(annotate(st$uni)),
       cumulative = conv(annotate(st$cumulative)))
}

out <- list(lavaan_version = as.character(packageVersion("lavaan")), cases = list())
for (name in names(cases)) {
  cs <- cases[[name]]
  args <- list(model = cs$model, data = data_of[[cs$data]])
  if (!is.null(cs$group)) args$group <- cs$group
  if (!is.null(cs$group.equal)) args$group.equal <- cs$group.equal
  if (!is.null(cs$meanstructure)) args$meanstructure <- cs$meanstructure
  fit <- do.call("sem", args)
  mi <- as.data.frame(modindices(fit))
  class(mi) <- "data.frame"
  out$cases[[name]] <- list(model = cs$model, data = cs$data, group = cs$group %||% NULL,
                            meanstructure = cs$meanstructure %||% FALSE,
                            group_equal = I(cs$group.equal %||% character(0)),
                            group_labels = I(lavInspect(fit, "group.label")),
                            chisq = unname(fitMeasures(fit, "chisq")),
                            score_tests = score_tests(fit), modindices = conv(mi))
}
write_ref(out, "score_tests_reference.json")
cat("make_score_tests.R done\n")
