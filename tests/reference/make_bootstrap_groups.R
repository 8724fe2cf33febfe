# Bollen-Stine bootstrap of a two-group model (lavaan 0.6.14 bootstrapLavaan, type =
# "bollen.stine": each group's data transformed to its implied means and covariances,
# cases resampled within groups). Run from this folder:
#   Rscript make_bootstrap_groups.R      (writes bootstrap_groups_reference.json)
source("ref_common.R")
hs <- read.csv("hs.csv")
m <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
f <- sem(m, data = hs, group = "school", group.equal = c("loadings", "intercepts"))
stat <- function(x) fitMeasures(x, c("chisq", "cfi", "rmsea", "srmr"))
R <- 1000
bt <- system.time(b <- bootstrapLavaan(f, R = R, type = "bollen.stine", FUN = stat, iseed = 77))
ok <- stats::complete.cases(b)
t0 <- unname(fitMeasures(f, "chisq"))
out <- list(lavaan_version = as.character(packageVersion("lavaan")), model = m, data = "hs.csv",
            group = "school", group_equal = I(c("loadings", "intercepts")), R = R, iseed = 77, n_ok = sum(ok),
            seconds = unname(bt["elapsed"]), names = I(names(stat(f))), estimate = I(unname(stat(f))),
            chisq_pvalue_bollen_stine = (1 + sum(b[ok, 1] >= t0)) / (sum(ok) + 1),
            quantiles = I(c(.05, .25, .5, .75, .95)),
            chisq_quantiles = I(unname(quantile(b[ok, 1], c(.05, .25, .5, .75, .95)))),
            srmr_quantiles = I(unname(quantile(b[ok, 4], c(.05, .25, .5, .75, .95)))),
            mean = I(unname(colMeans(b[ok, , drop = FALSE]))), sd = I(unname(apply(b[ok, , drop = FALSE], 2, sd))))
write_ref(out, "bootstrap_groups_reference.json")
