# Extra reference values for lcsem's measurement-quality and effects tests
# (tests/test_measurement.py, tests/test_effects.py).
# Needs Debian packages r-cran-lavaan r-cran-semtools r-cran-jsonlite (lavaan 0.6.14, semTools 0.5.6).
# Run from this folder: Rscript make_measurement_effects_reference.R  (a few seconds)
# Writes measurement_effects_reference.json.
suppressMessages({library(lavaan); library(semTools); library(jsonlite)})
hs <- read.csv("hs.csv"); pdd <- read.csv("pd.csv"); lc <- read.csv("lc_shared.csv")

quality <- function(cfa_model, data) {
  cf <- cfa(cfa_model, data=data)
  h1 <- htmt(cfa_model, data=data, htmt2=FALSE)
  h2 <- htmt(cfa_model, data=data, htmt2=TRUE)
  list(model=cfa_model,
       alpha=as.list(compRelSEM(cf, tau.eq=TRUE)),
       omega=as.list(compRelSEM(cf)),                      # default: obs.var=TRUE
       omega_implied=as.list(compRelSEM(cf, obs.var=FALSE)),
       ave=as.list(AVE(cf)),
       ave_implied=as.list(AVE(cf, obs.var=FALSE)),
       cor_lv=unname(lavInspect(cf, "cor.lv")),
       htmt=list(names=rownames(h1), m=unname(as.matrix(h1))),
       htmt2=list(names=rownames(h2), m=unname(as.matrix(h2))),
       std_loadings=standardizedSolution(cf)[standardizedSolution(cf)$op == "=~",
                                             c("lhs","op","rhs","est.std","se","ci.lower","ci.upper")])
}

defined <- function(model, data) {
  f <- sem(model, data=data)
  pe <- parameterEstimates(f); ss <- standardizedSolution(f)
  i <- pe$op == ":="; j <- ss$op == ":="
  list(model=model,
       defined=data.frame(name=pe$lhs[i], est=pe$est[i], se=pe$se[i],
                          std=ss$est.std[j], std_se=ss$se[j]),
       paths=data.frame(lhs=pe$lhs[pe$op == "~"], rhs=pe$rhs[pe$op == "~"], est=pe$est[pe$op == "~"]))
}

hs_cfa <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
lc_cfa <- ' culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf    =~ perf1 + perf2 + perf3 + perf4 + perf5 '
lc_model <- paste(lc_cfa, '
 kmsuse ~ a*culture
 perf ~ b*kmsuse + c*culture
 ind := a*b
 total := c + a*b ')
pd_model <- '
 ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + y2 + y3 + y4
 dem65 =~ y5 + y6 + y7 + y8
 dem60 ~ a*ind60
 dem65 ~ c*ind60 + b*dem60
 y1 ~~ y5
 y2 ~~ y4 + y6
 y3 ~~ y7
 y4 ~~ y8
 y6 ~~ y8
 ind := a*b
 total := c + a*b '
# an observed path model with three chains from x1 to x9 (two single-mediator, one serial)
hs_paths <- '
 x7 ~ a1*x1
 x8 ~ a2*x1 + d*x7
 x9 ~ c*x1 + b1*x7 + b2*x8
 i1 := a1*b1
 i2 := a2*b2
 i3 := a1*d*b2
 tot_ind := a1*b1 + a2*b2 + a1*d*b2
 total := c + a1*b1 + a2*b2 + a1*d*b2 '
out <- list(lavaan_version=as.character(packageVersion("lavaan")),
            semtools_version=as.character(packageVersion("semTools")),
            measurement=list(holzinger_swineford=quality(hs_cfa, hs),
                             learning_culture_survey=quality(lc_cfa, lc)),
            effects=list(learning_culture_survey=defined(lc_model, lc),
                         political_democracy=defined(pd_model, pdd),
                         holzinger_swineford_paths=defined(hs_paths, hs)))
write_json(out, "measurement_effects_reference.json", auto_unbox=TRUE, digits=10, pretty=TRUE)
