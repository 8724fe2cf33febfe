# lavaan 0.6.14 references for identification (std.lv), summary-statistics input,
# parameterEstimates CIs, standardizedSolution SEs/CIs, std.lv/std.nox columns, lavPredict
# scores and standardised covariances of negative variances. Used by
# tests/test_identification.py and tests/test_lavaan_outputs.py.
# Run from this folder: Rscript make_identification.R   (fixed seed; writes heywood.csv too)
suppressMessages({library(lavaan); library(jsonlite)})

hs <- read.csv("hs.csv")
pd <- read.csv("pd.csv")
survey <- read.csv("../../lcsem/datasets/lc_survey.csv")
ext <- read.csv("extended_sim.csv")

# lcsem.lc_model().to_syntax() and lcsem.lc_extended_model().to_syntax() (labels kept)
canonical <- '
culture =~ lc_continuous + lc_inquiry + lc_team + lc_embedded + lc_empower + lc_connect + lc_leader
kmsuse =~ kms_frequency + kms_breadth + kms_reliance + kms_contribution
perf =~ op_roi + op_productivity + op_innovation + op_ideas + op_responsiveness
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b
total := c+a*b
'
extended <- '
mgmt_comp =~ mc_vision + mc_coaching + mc_sharing + mc_resources
learning_proc =~ lp_info_flow + lp_feedback + lp_lessons + lp_review
emp_ability =~ ea_skills + ea_contribute + ea_training
culture =~ lc_continuous + lc_inquiry + lc_team + lc_embedded + lc_empower + lc_connect + lc_leader
kmsuse =~ kms_frequency + kms_breadth + kms_reliance + kms_contribution
perf =~ op_roi + op_productivity + op_innovation + op_ideas + op_responsiveness
culture ~ mgmt_comp + learning_proc
kmsuse ~ a*culture + learning_proc + emp_ability
perf ~ b*kmsuse + c*culture
ind := a*b
total := c+a*b
'
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
mimic <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 visual ~ ageyr + grade
 textual ~ ageyr '
pd_model <- '
 ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + y2 + y3 + y4
 dem65 =~ y5 + y6 + y7 + y8
 dem60 ~ ind60
 dem65 ~ ind60 + dem60
 y1 ~~ y5
 y2 ~~ y4 + y6
 y3 ~~ y7
 y4 ~~ y8
 y6 ~~ y8 '
# a near-perfect indicator at N = 60 gives y1 a negative residual variance; its residual
# covariance with y4 is then standardised with sqrt(|variance|) by lavaan
heywood_pop <- ' f =~ 0.98*y1 + 0.5*y2 + 0.5*y3
 g =~ 0.7*y4 + 0.7*y5 + 0.7*y6
 f ~~ 0.4*g
 y1 ~~ 0.0396*y1 '
heywood <- ' f =~ y1 + y2 + y3
 g =~ y4 + y5 + y6
 y1 ~~ y4 '
set.seed(6)
write.csv(simulateData(heywood_pop, sample.nobs = 60), "heywood.csv", row.names = FALSE)
hey <- read.csv("heywood.csv")

fit_names <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "baseline.chisq")

describe <- function(f, model, data_file, std_lv = FALSE, level = 0.95, scores = TRUE) {
  pe <- parameterEstimates(f, level = level, standardized = TRUE)
  ss <- standardizedSolution(f, type = "std.all", level = level)
  out <- list(model = model, data = data_file, std_lv = std_lv, level = level,
              fit = as.list(fitMeasures(f, fit_names)),
              params = pe[, intersect(c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue",
                                        "ci.lower", "ci.upper", "std.lv", "std.all", "std.nox"),
                                      names(pe))],
              std_solution = ss[, c("lhs", "op", "rhs", "est.std", "se", "z", "pvalue",
                                    "ci.lower", "ci.upper")],
              std_nox = standardizedSolution(f, type = "std.nox", level = level)[
                , c("lhs", "op", "rhs", "est.std", "se")],
              std_lv_solution = standardizedSolution(f, type = "std.lv", level = level)[
                , c("lhs", "op", "rhs", "est.std", "se")])
  if (scores) {
    out$scores_regression <- as.data.frame(lavPredict(f, method = "regression"))
    out$scores_bartlett <- as.data.frame(lavPredict(f, method = "Bartlett"))
  }
  out
}

out <- list(lavaan_version = as.character(packageVersion("lavaan")))

# 1. std.lv = TRUE: endogenous latent residual variances fixed to 1
f <- sem(canonical, data = survey, std.lv = TRUE)
out$canonical_std_lv <- describe(f, canonical, "lc_survey", std_lv = TRUE)
out$canonical_std_lv$partable <- parTable(f)[, c("lhs", "op", "rhs", "free", "ustart")]
f <- sem(extended, data = ext, std.lv = TRUE)
out$extended_std_lv <- describe(f, extended, "extended_sim.csv", std_lv = TRUE, scores = FALSE)

# 2. everyday outputs on models with and without fixed.x covariates
f <- cfa(hs_model, data = hs)
out$hs <- describe(f, hs_model, "hs.csv")
out$hs$residuals <- list(raw = unclass(resid(f, type = "raw")$cov),
                         cor_bollen = unclass(resid(f, type = "cor.bollen")$cov),
                         cor_bentler = unclass(resid(f, type = "cor.bentler")$cov),
                         implied = unclass(fitted(f)$cov))
out$hs_level90 <- describe(cfa(hs_model, data = hs), hs_model, "hs.csv", level = 0.90, scores = FALSE)
out$mimic <- describe(sem(mimic, data = hs), mimic, "hs.csv", scores = FALSE)
out$mimic$scores_regression <- as.data.frame(lavPredict(sem(mimic, data = hs), method = "regression"))
out$pd <- describe(sem(pd_model, data = pd), pd_model, "pd.csv")
out$canonical <- describe(sem(canonical, data = survey), canonical, "lc_survey")

# 3. summary statistics: sample.cov (unbiased, N - 1), sample.nobs; a correlation matrix
#    with standard deviations; lavaan rescales sample.cov by (N - 1) / N for ML
vars <- paste0("x", 1:9)
S <- cov(hs[, vars]); R <- cor(hs[, vars]); sds <- sqrt(diag(S))
sc <- list(cov = unname(S), cor = unname(R), sd = unname(sds), names = vars, nobs = nrow(hs),
           model = hs_model)
for (e in c("ML", "GLS", "ULS")) {
  f <- cfa(hs_model, sample.cov = S, sample.nobs = nrow(hs), estimator = e)
  sc[[e]] <- list(fit = as.list(fitMeasures(f, fit_names)),
                  params = parameterEstimates(f, standardized = TRUE)[
                    , c("lhs", "op", "rhs", "est", "se", "ci.lower", "ci.upper", "std.all")])
}
f <- cfa(hs_model, sample.cov = cor2cov(R, sds), sample.nobs = nrow(hs))
sc$from_cor <- list(fit = as.list(fitMeasures(f, fit_names)),
                    params = parameterEstimates(f)[, c("lhs", "op", "rhs", "est", "se")])
out$sample_cov <- sc
pvars <- c(paste0("y", 1:8), paste0("x", 1:3))
f <- sem(pd_model, sample.cov = cov(pd[, pvars]), sample.nobs = nrow(pd))
out$sample_cov_pd <- list(cov = unname(cov(pd[, pvars])), names = pvars, nobs = nrow(pd),
                          model = pd_model, fit = as.list(fitMeasures(f, fit_names)),
                          params = parameterEstimates(f, standardized = TRUE)[
                            , c("lhs", "op", "rhs", "est", "se", "std.all")])

# 4. negative residual variance: standardised covariance and sepc.all with |variance|
f <- suppressWarnings(cfa(heywood, data = hey))
mi <- modindices(f)
out$heywood <- list(model = heywood, data = "heywood.csv",
                    params = parameterEstimates(f, standardized = TRUE)[
                      , c("lhs", "op", "rhs", "est", "se", "std.lv", "std.all")],
                    std_solution = standardizedSolution(f)[, c("lhs", "op", "rhs", "est.std", "se")],
                    modindices = mi[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")])

# modification indices of the same data without the residual covariance (lcsem's MIs
# agree with lavaan's there; sepc.all of covariances with y1 uses |variance of y1|)
heywood_cfa <- ' f =~ y1 + y2 + y3
 g =~ y4 + y5 + y6 '
f <- suppressWarnings(cfa(heywood_cfa, data = hey))
out$heywood_cfa <- list(model = heywood_cfa, data = "heywood.csv",
                        modindices = modindices(f)[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")])

write_json(out, "identification_reference.json", auto_unbox = TRUE, digits = 10, pretty = TRUE,
           na = "null")
