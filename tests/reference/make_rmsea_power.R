# Analytic RMSEA power and sample size (MacCallum, Browne & Sugawara 1996) from semTools 0.5.6.
# Run from this folder: Rscript make_rmsea_power.R   (writes rmsea_power_reference.json)
suppressMessages(library(semTools))
library(jsonlite)
rows <- list()
for (df in c(2, 10, 24, 41, 50)) for (n in c(100, 150, 200, 300, 500, 1000))
  for (pair in list(c(.05, .08), c(.05, .01), c(0, .05))) {
    rows[[length(rows) + 1]] <- list(df = df, n = n, rmsea0 = pair[1], rmsea1 = pair[2], alpha = .05, groups = 1,
                                     power = findRMSEApower(pair[1], pair[2], df, n, alpha = .05))
  }
rows[[length(rows) + 1]] <- list(df = 41, n = 300, rmsea0 = .05, rmsea1 = .08, alpha = .05, groups = 2,
                                 power = findRMSEApower(.05, .08, 41, 300, alpha = .05, group = 2))
rows[[length(rows) + 1]] <- list(df = 41, n = 200, rmsea0 = .05, rmsea1 = .08, alpha = .01, groups = 1,
                                 power = findRMSEApower(.05, .08, 41, 200, alpha = .01))
ss <- list()
for (df in c(2, 10, 24, 41, 50)) for (pair in list(c(.05, .08), c(.05, .01))) for (pw in c(.8, .9)) {
  ss[[length(ss) + 1]] <- list(df = df, rmsea0 = pair[1], rmsea1 = pair[2], power = pw, alpha = .05,
                               n = as.numeric(findRMSEAsamplesize(pair[1], pair[2], df, power = pw, alpha = .05)))
}
out <- list(semtools_version = as.character(packageVersion("semTools")), power = rows, sample_size = ss)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "rmsea_power_reference.json")
