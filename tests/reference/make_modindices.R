# Regenerates modindices_reference.json: lavaan 0.6.14 modindices() (ML, expected
# information, lavaan's defaults: free parameters and NA rows removed) for several models.
# Needs Debian packages r-cran-lavaan r-cran-jsonlite. Run from this folder:
#   Rscript make_modindices.R      (a few seconds)
suppressMessages({library(lavaan); library(jsonlite)})
hs <- read.csv("hs.csv"); pdd <- read.csv("pd.csv"); lc <- read.csv("lc_shared.csv")
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
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
lc_model <- '
 culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b '
# orthogonal factors (a fixed-to-zero covariance), equal loadings (a shared label) and a
# fixed residual variance
hs_orth_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + l*x5 + l*x6
 speed =~ x7 + x8 + x9
 visual ~~ 0*textual
 x3 ~~ 0.8*x3 '
# an observed outcome regressed on factors
hs_obs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 x9 ~ visual + textual '
# observed exogenous covariates (lavaan's fixed.x)
hs_cov_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 visual ~ ageyr + agemo
 textual ~ ageyr '
# a second-order factor
hs_second_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 g =~ visual + textual + speed '
# a path model of observed variables only (no latent variables)
hs_path_model <- ' x9 ~ x1 + x4
 x7 ~ x9 + x1
 x8 ~ x7 '

entry <- function(model, data, std.lv=FALSE) {
  fit <- sem(model, data=data, std.lv=std.lv)
  mi <- modindices(fit, sort.=TRUE)
  list(model=model, std_lv=std.lv, chisq=unname(fitMeasures(fit, "chisq")),
       modindices=data.frame(lhs=mi$lhs, op=mi$op, rhs=mi$rhs, mi=mi$mi, epc=mi$epc,
                             sepc.all=mi$sepc.all, stringsAsFactors=FALSE))
}
out <- list(
  lavaan_version=as.character(packageVersion("lavaan")),
  holzinger_swineford=entry(hs_model, hs),
  holzinger_swineford_std_lv=entry(hs_model, hs, std.lv=TRUE),
  holzinger_swineford_orthogonal=entry(hs_orth_model, hs),
  holzinger_swineford_observed_outcome=entry(hs_obs_model, hs),
  holzinger_swineford_covariates=entry(hs_cov_model, hs),
  holzinger_swineford_second_order=entry(hs_second_model, hs),
  holzinger_swineford_path=entry(hs_path_model, hs),
  political_democracy=entry(pd_model, pdd),
  learning_culture_survey=entry(lc_model, lc))
writeLines(toJSON(out, digits=I(12), auto_unbox=TRUE, pretty=TRUE, dataframe="rows"),
           "modindices_reference.json")
