# Fleishman coefficients and Vale-Maurelli intermediate correlations from lavaan 0.6.14's
# own implementation (lavaan:::ValeMaurelli1983, used by simulateData(skewness=, kurtosis=)).
# Run from this folder: Rscript make_vale_maurelli.R   (writes vale_maurelli_reference.json)
suppressMessages(library(lavaan)); library(jsonlite)
f <- body(lavaan:::ValeMaurelli1983)
env <- new.env()
eval(f[[2]], env)   # defines fleishman1978_abcd
eval(f[[3]], env)   # defines getICOV
pairs <- list(c(1, 1), c(1, 2), c(1.5, 3.5), c(2, 7), c(0, -1), c(0, 2), c(-1, 1.5), c(0.5, 0), c(3, 20))
coef <- lapply(pairs, function(p) list(skew = p[1], kurtosis = p[2], abcd = env$fleishman1978_abcd(p[1], p[2])))
icor <- list()
for (i in c(1, 3, 4)) for (j in c(2, 5)) for (R in c(0.2, 0.5, -0.3)) {
  a <- coef[[i]]$abcd; b <- coef[[j]]$abcd
  icor[[length(icor) + 1]] <- list(first = i - 1, second = j - 1, target = R,
                                   intermediate = env$getICOV(a[2], a[3], a[4], b[2], b[3], b[4], R))
}
out <- list(lavaan_version = as.character(packageVersion("lavaan")), fleishman = coef, intermediate = icor)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "vale_maurelli_reference.json")
