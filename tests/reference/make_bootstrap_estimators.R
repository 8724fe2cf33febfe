# bootstrapLavaan references for the GLS and ULS single-group bootstrap (issue 10: "the
# bootstrap works for all three"), lavaan 0.6.14. Run from this folder:
#   Rscript make_bootstrap_estimators.R      (writes bootstrap_estimators_reference.json)
source("ref_common.R")
hs <- read.csv("hs.csv")
m <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
stat <- function(x) c(coef(x), fitMeasures(x, c("chisq", "cfi", "tli", "rmsea", "srmr")))
out <- list(lavaan_version = as.character(packageVersion("lavaan")), model = m, data = "hs.csv")
for (e in c("GLS", "ULS")) {
  f <- sem(m, data = hs, estimator = e)
  R <- 2000
  bt <- system.time(b <- bootstrapLavaan(f, R = R, FUN = stat, iseed = 2026))
  pct <- apply(b, 2, function(x) as.numeric(quantile(x, c(.025, .975), na.rm = TRUE)))
  out[[e]] <- list(R = R, iseed = 2026, n_ok = sum(stats::complete.cases(b)),
                   seconds = unname(bt["elapsed"]), names = I(names(stat(f))),
                   estimate = I(unname(stat(f))), pct_2.5 = I(unname(pct[1, ])),
                   pct_97.5 = I(unname(pct[2, ])), mean = I(unname(colMeans(b, na.rm = TRUE))),
                   sd = I(unname(apply(b, 2, sd, na.rm = TRUE))))
}
write_ref(out, "bootstrap_estimators_reference.json")
