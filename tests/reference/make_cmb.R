# Regenerates cmb_reference.json: numbers behind lcsem.common_method_bias, computed
# independently with lavaan 0.6.14 and base R: the measurement-model CFA and Harman's
# single-factor CFA (fit measures), full-collinearity VIFs (Kock 2015) of mean scores and
# of regression factor scores (lavPredict), and the first principal component's share.
# Needs r-cran-lavaan r-cran-jsonlite. Run from this folder: Rscript make_cmb.R (seconds)
suppressMessages({library(lavaan); library(jsonlite)})
fm <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")
vifs <- function(scores) {
  sapply(colnames(scores), function(v) {
    r2 <- summary(lm(scores[, v] ~ scores[, colnames(scores) != v]))$r.squared
    1 / (1 - r2)
  })
}
entry <- function(constructs, data) {
  cfa_text <- paste(sapply(names(constructs), function(f)
    paste(f, "=~", paste(constructs[[f]], collapse = " + "))), collapse = "\n")
  items <- unlist(constructs, use.names = FALSE)
  one_text <- paste("method =~", paste(items, collapse = " + "))
  cf <- cfa(cfa_text, data = data)
  one <- cfa(one_text, data = data)
  means <- sapply(constructs, function(v) rowMeans(data[, v, drop = FALSE]))
  fs <- lavPredict(cf, method = "regression")
  ev <- eigen(cor(data[, items]))$values
  list(constructs = constructs,
       measurement = as.list(fitMeasures(cf, fm)), single_factor = as.list(fitMeasures(one, fm)),
       vif_mean = as.list(vifs(means)), vif_factor = as.list(vifs(fs[, names(constructs)])),
       first_factor_share = ev[1] / length(items),
       single_factor_share = mean(standardizedSolution(one)$est.std[standardizedSolution(one)$op == "=~"]^2))
}
hs <- read.csv("hs.csv"); lc <- read.csv("lc_shared.csv")
out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  holzinger_swineford = entry(list(visual = c("x1", "x2", "x3"), textual = c("x4", "x5", "x6"),
                                   speed = c("x7", "x8", "x9")), hs),
  learning_culture_survey = entry(list(culture = paste0("culture", 1:6), kmsuse = paste0("kmsuse", 1:4),
                                       perf = paste0("perf", 1:5)), lc))
writeLines(toJSON(out, digits = I(12), auto_unbox = TRUE, pretty = TRUE), "cmb_reference.json")
