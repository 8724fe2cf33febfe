# A badly fitting mean structure (x1's intercept fixed at 0, latent mean 0): lavaan 0.6.14
# converges to a large latent variance; lcsem must reach the same optimum (retry starts).
library(lavaan); library(jsonlite)
hs <- read.csv("hs.csv")
model <- "visual =~ x1 + x2 + x3\n x1 ~ 0*1"
f <- sem(model, hs)
pe <- parameterEstimates(f)
out <- list(lavaan_version = as.character(packageVersion("lavaan")), model = model,
            fit_measures = as.list(fitMeasures(f, c("chisq", "df", "logl", "cfi", "rmsea", "srmr"))),
            params = pe[, c("lhs", "op", "rhs", "est", "se")])
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "means_misfit_reference.json")
