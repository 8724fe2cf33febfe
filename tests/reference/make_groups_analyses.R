# References for per-group analyses of multi-group and mean-structure fits (issue 10, wave 2):
# factor scores (lavPredict, regression and Bartlett, centred at the implied means), composite
# reliability and AVE per group (semTools compRelSEM / AVE), per-group indirect effects (:=
# on group-specific labels). lavaan 0.6.14, semTools 0.5.6, ML. No random numbers.
# Run from this folder: Rscript make_groups_analyses.R  (writes groups_analyses_reference.json)
source("ref_common.R")

hs <- read.csv("hs.csv")
lc <- read.csv("lc_shared.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
hs_covariate <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 visual ~ ageyr
 textual ~ visual '
lc_groups <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ c(a1, a2)*culture
 perf ~ c(b1, b2)*kmsuse + c(c1, c2)*culture
 ind1 := a1*b1
 ind2 := a2*b2 '

scores <- function(f, method) {
  s <- lavPredict(f, method = method)
  if (!is.list(s) || is.matrix(s)) s <- list(s)
  lapply(s, function(m) as.data.frame(m))
}

per_group <- function(x) {   # semTools returns a group-by-construct matrix, or a vector for one group
  if (is.matrix(x) || is.data.frame(x)) {
    x <- as.data.frame(x)
    return(lapply(seq_len(nrow(x)), function(g) as.list(x[g, , drop = FALSE])))
  }
  list(as.list(x))
}

out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")), fits = list())
add <- function(name, f, data, group = NULL, reliability = TRUE) {
  entry <- list(
    group_labels = I(lavInspect(f, "group.label")),
    scores_regression = scores(f, "regression"),
    scores_bartlett = scores(f, "Bartlett"),
    case_idx = lapply(if (is.list(lavInspect(f, "case.idx"))) lavInspect(f, "case.idx") else list(lavInspect(f, "case.idx")), I))
  if (reliability) {
    entry$omega <- per_group(compRelSEM(f))
    entry$ave <- per_group(AVE(f))
  }
  pe <- parameterEstimates(f, standardized = TRUE)
  entry$defined <- pe[pe$op == ":=", c("lhs", "est", "se", "std.all")]
  out$fits[[name]] <<- entry
}

f <- cfa(hs_model, data = hs, group = "school", group.equal = "loadings")
add("hs_metric", f)
f <- cfa(hs_model, data = hs, group = "school", group.equal = c("loadings", "intercepts"))
add("hs_scalar", f)
f <- sem(hs_covariate, data = hs, meanstructure = TRUE)
add("hs_covariate_means", f, reliability = FALSE)
f <- sem(lc_groups, data = lc, group = "sector")
add("lc_groups", f)

write_json(out, "groups_analyses_reference.json", auto_unbox = TRUE, digits = NA, null = "null", na = "null")
