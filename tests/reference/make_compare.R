# Chi-square difference tests of nested single-group ML models (lcsem.compare), lavaan 0.6.14.
# Run from this folder: Rscript make_compare.R   (writes compare_reference.json; a few seconds)
#
# For every comparison: lavTestLRT's table (rows sorted by df, as lavaan prints them), the
# fitMeasures of each model, and, for each adjacent pair, Bentler & Satorra's (2010) nesting
# statistic: the chi-square of the less restricted model fitted to the more restricted
# model's implied covariance matrix. The matrix is passed as sample.cov = Sigma * N / (N - 1),
# so that after lavaan's (N - 1) / N rescaling the model is fitted to Sigma itself; ~0 means
# nested. semTools::net's verdict (crit = 1e-4, which passes Sigma without that factor) is
# stored too.
source("ref_common.R")

hs <- read.csv("hs.csv")
pd <- read.csv("pd.csv")
data_of <- list(hs = hs, pd = pd)

models <- list(
  hs_one = list(data = "hs", model = ' g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 '),
  hs_three = list(data = "hs", model = ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '),
  hs_three_rescov = list(data = "hs", model = ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9
 x7 ~~ x8 '),
  hs_three_equal = list(data = "hs", model = ' visual =~ x1 + a*x2 + a*x3
 textual =~ x4 + b*x5 + b*x6
 speed =~ x7 + c*x8 + c*x9 '),
  pd_free = list(data = "pd", model = ' ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + y2 + y3 + y4
 dem65 =~ y5 + y6 + y7 + y8
 dem60 ~ ind60
 dem65 ~ ind60 + dem60
 y1 ~~ y5
 y2 ~~ y4 + y6
 y3 ~~ y7
 y4 ~~ y8
 y6 ~~ y8 '),
  pd_equal = list(data = "pd", model = ' ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + a*y2 + b*y3 + c*y4
 dem65 =~ y5 + a*y6 + b*y7 + c*y8
 dem60 ~ ind60
 dem65 ~ ind60 + dem60
 y1 ~~ y5
 y2 ~~ y4 + y6
 y3 ~~ y7
 y4 ~~ y8
 y6 ~~ y8 '),
  pd_equal_nocov = list(data = "pd", model = ' ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + a*y2 + b*y3 + c*y4
 dem65 =~ y5 + a*y6 + b*y7 + c*y8
 dem60 ~ ind60
 dem65 ~ ind60 + dem60 '),
  # free loadings, no residual covariances: nested in pd_free, NOT in pd_equal
  pd_nocov = list(data = "pd", model = ' ind60 =~ x1 + x2 + x3
 dem60 =~ y1 + y2 + y3 + y4
 dem65 =~ y5 + y6 + y7 + y8
 dem60 ~ ind60
 dem65 ~ ind60 + dem60 ')
)

# do.call puts the model text itself into each fit's call, which semTools::net's update() needs
fits <- lapply(models, function(m) do.call("sem", list(model = m$model, data = data_of[[m$data]])))

fm_names <- c("chisq", "df", "pvalue", "npar", "aic", "bic", "logl", "ntotal")
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            data = list(hs = "hs.csv", pd = "pd.csv"),
            models = lapply(names(models), function(n) list(
              data = models[[n]]$data, model = models[[n]]$model,
              fit_measures = as.list(fitMeasures(fits[[n]], fm_names)))),
            comparisons = list())
names(out$models) <- names(models)

# chi-square of `free` (fewer df) fitted to the covariance implied by `restricted`
nesting_chisq <- function(free, restricted) {
  Sigma <- lavInspect(fits[[restricted]], "cov.ov")
  N <- lavInspect(fits[[restricted]], "nobs")
  refit <- sem(models[[free]]$model, sample.cov = Sigma * N / (N - 1), sample.nobs = N)
  list(free = free, restricted = restricted, chisq = fitMeasures(refit, "chisq")[[1]],
       converged = lavInspect(refit, "converged"))
}

compare <- function(name, given_order, nested = TRUE) {
  args <- c(unname(fits[given_order]), list(model.names = given_order))
  a <- suppressWarnings(do.call(lavTestLRT, args))
  d <- as.data.frame(a); d$model <- rownames(a); rownames(d) <- NULL
  sorted <- d$model
  pairs <- lapply(seq_len(length(sorted) - 1), function(i) nesting_chisq(sorted[i], sorted[i + 1]))
  net_out <- do.call(semTools::net, fits[sorted])
  out$comparisons[[name]] <<- list(given_order = I(given_order), nested = nested,
                                   method = attr(a, "heading"), table = conv(d),
                                   nesting = pairs,
                                   semtools_net = conv(unclass(net_out@test)))
}

compare("hs_one_vs_three", c("hs_one", "hs_three"))
compare("hs_equal_loadings", c("hs_three", "hs_three_equal"))
# three models given out of order: lavaan sorts them by df
compare("hs_sequence", c("hs_three_equal", "hs_three_rescov", "hs_three"))
compare("pd_free_vs_equal", c("pd_free", "pd_equal"))
compare("pd_sequence", c("pd_equal_nocov", "pd_free", "pd_equal"))
compare("pd_free_vs_nocov", c("pd_free", "pd_nocov"))
# not nested: lavaan prints a table anyway; lcsem refuses
compare("pd_equal_vs_nocov_not_nested", c("pd_equal", "pd_nocov"), nested = FALSE)

write_ref(out, "compare_reference.json")
cat("make_compare.R done\n")
