# GLS and ULS reference values (lavaan 0.6.14) for lcsem's tests.
# Run from this folder: Rscript make_estimators.R
suppressMessages({library(lavaan); library(jsonlite)})
hs <- read.csv("hs.csv")
m <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
out <- list(lavaan_version=as.character(packageVersion("lavaan")), model=m)
for (e in c("GLS", "ULS")) {
  f <- sem(m, data=hs, estimator=e)
  out[[e]] <- list(fit=as.list(fitMeasures(f, c("chisq","df","cfi","tli","rmsea","srmr","baseline.chisq"))),
                   params=parameterEstimates(f)[, c("lhs","op","rhs","est","se")])
}
# auto.cov.y and fixed.x behaviour: two outcomes of observed predictors
set.seed(1); d <- data.frame(x=rnorm(100), z=rnorm(100)); d$y1 <- d$x + rnorm(100); d$y2 <- d$x + 0.5*d$z + rnorm(100)
write.csv(d, "two_outcomes.csv", row.names=FALSE)
f <- sem('y1 ~ x + z; y2 ~ x', data=d)
out$two_outcomes <- list(model='y1 ~ x + z; y2 ~ x',
  fit=as.list(fitMeasures(f, c("chisq","df","npar","logl","aic","bic","cfi","srmr"))),
  params=parameterEstimates(f)[, c("lhs","op","rhs","est","se")])
write_json(out, "estimators_reference.json", auto_unbox=TRUE, digits=10, pretty=TRUE)
