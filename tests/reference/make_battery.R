# An "unseen-style" battery of lavaan 0.6.14 / semTools 0.5.6 references (issue 9):
# model shapes the other references do not use, ML / GLS / ULS, with and without
# observed covariates. Run from this folder: Rscript make_battery.R
# Writes battery_<data>.csv (data) and battery_reference.json (every lavaan output).
suppressMessages({library(lavaan); library(semTools); library(jsonlite); library(MASS)})

write_data <- function(d, name) {
  write.csv(d, sprintf("battery_%s.csv", name), row.names = FALSE)
  d
}

# ---------------------------------------------------------------- data
set.seed(9101)
second_order <- write_data(simulateData('
  g =~ 0.8*f1 + 0.7*f2 + 0.6*f3
  f1 =~ 1*a1 + 0.8*a2 + 0.7*a3
  f2 =~ 1*b1 + 0.9*b2 + 0.6*b3
  f3 =~ 1*c1 + 0.7*c2 + 0.8*c3', sample.nobs = 300), "second_order")

set.seed(9102)
n <- 250
x1 <- rnorm(n); dmy <- rbinom(n, 1, 0.35)
f <- 0.5 * x1 + 0.6 * dmy + rnorm(n)
mimic <- data.frame(y1 = f + rnorm(n, sd = .7), y2 = 0.8 * f + rnorm(n, sd = .7),
                    y3 = 0.9 * f + rnorm(n, sd = .8), y4 = 0.7 * f + rnorm(n, sd = .6),
                    x1 = x1, dmy = dmy)
mimic <- write_data(mimic, "mimic")

set.seed(9103)
mediation <- write_data(simulateData('
  X =~ 1*x1 + 0.8*x2 + 0.7*x3
  M1 =~ 1*m1 + 0.9*m2 + 0.8*m3
  M2 =~ 1*n1 + 0.8*n2 + 0.9*n3
  Y =~ 1*y1 + 0.7*y2 + 0.8*y3
  M1 ~ 0.5*X
  M2 ~ 0.4*M1 + 0.2*X
  Y ~ 0.4*M2 + 0.3*M1 + 0.1*X', sample.nobs = 400), "mediation")

set.seed(9104)
cfa2 <- write_data(simulateData('
  f1 =~ 1*x1 + 0.9*x2 + 0.9*x3 + 0.7*x4
  f2 =~ 1*y1 + 0.8*y2 + 0.8*y3 + 0.6*y4
  f1 ~~ 0.4*f2', sample.nobs = 220), "cfa2")

set.seed(9105)
cfa3 <- write_data(simulateData('
  f1 =~ 0.8*x1 + 0.7*x2 + 0.6*x3
  f2 =~ 0.7*y1 + 0.8*y2 + 0.6*y3
  f3 =~ 0.6*z1 + 0.7*z2 + 0.8*z3
  f1 ~~ 0.3*f2 + 0.2*f3
  f2 ~~ 0.4*f3', sample.nobs = 180), "cfa3")

# a classic socio-economic data set: Swiss fertility, 47 provinces (R's `swiss`)
sw <- swiss
names(sw) <- c("fertility", "agriculture", "examination", "education", "catholic", "infant")
sw$catholic <- sw$catholic / 10
swiss_d <- write_data(sw, "swiss")

set.seed(9106)
single <- write_data(simulateData('
  f1 =~ 1*x1 + 0.8*x2 + 0.9*x3
  f2 =~ 1*y1
  y1 ~~ 0.3*y1
  f2 ~ 0.5*f1
  f3 =~ 1*z1 + 0.7*z2 + 0.8*z3
  f3 ~ 0.4*f2', sample.nobs = 200), "single")

# a Heywood case: a near-perfect indicator at a small N
set.seed(9107)
heywood <- simulateData('
  f1 =~ 1*x1 + 0.6*x2 + 0.5*x3
  f2 =~ 1*y1 + 0.7*y2 + 0.6*y3
  x1 ~~ 0.01*x1
  f1 ~~ 0.5*f2', sample.nobs = 80)
heywood <- write_data(heywood, "heywood")

set.seed(9108)
sk <- simulateData('
  f1 =~ 1*x1 + 0.8*x2 + 0.8*x3 + 0.7*x4
  f2 =~ 1*y1 + 0.9*y2 + 0.7*y3
  f2 ~ 0.5*f1', sample.nobs = 250, skewness = 2, kurtosis = 6)
skewed <- write_data(sk, "skewed")

set.seed(9109)
small <- write_data(simulateData('
  f1 =~ 1*x1 + 0.8*x2 + 0.7*x3
  f2 =~ 1*y1 + 0.9*y2 + 0.8*y3
  f2 ~ 0.5*f1 + 0.3*w
  f1 ~ 0.3*w', sample.nobs = 60), "small")

set.seed(9110)
big <- write_data(simulateData('
  F1 =~ 1*a1 + 0.8*a2 + 0.7*a3 + 0.8*a4 + 0.6*a5
  F2 =~ 1*b1 + 0.7*b2 + 0.8*b3 + 0.9*b4 + 0.6*b5
  F3 =~ 1*c1 + 0.8*c2 + 0.8*c3 + 0.7*c4 + 0.7*c5
  F4 =~ 1*d1 + 0.9*d2 + 0.6*d3 + 0.8*d4 + 0.7*d5
  F5 =~ 1*e1 + 0.7*e2 + 0.8*e3 + 0.6*e4 + 0.9*e5
  F6 =~ 1*h1 + 0.8*h2 + 0.7*h3 + 0.9*h4 + 0.6*h5
  F1 ~~ 0.3*F2
  F3 ~ 0.4*F1 + 0.3*F2
  F4 ~ 0.5*F3
  F5 ~ 0.3*F3 + 0.2*F1
  F6 ~ 0.3*F4 + 0.4*F5', sample.nobs = 1000), "big")

# a published covariance structure: Holzinger-Swineford's first six tests (N = 301),
# reproduced exactly (empirical = TRUE)
hs <- HolzingerSwineford1939[, paste0("x", 1:6)]
set.seed(9111)
pub <- as.data.frame(mvrnorm(301, mu = colMeans(hs), Sigma = cov(hs), empirical = TRUE))
published <- write_data(pub, "published")

# Wheaton et al. (1977) alienation covariance matrix (N = 932), reproduced exactly
lower <- '11.834
  6.947 9.364
  6.819 5.091 12.532
  4.783 5.028 7.495 9.986
 -3.839 -3.889 -3.841 -3.625 9.610
 -21.899 -18.831 -21.748 -18.775 35.522 450.288'
wcov <- getCov(lower, names = c("anomia67", "powerless67", "anomia71", "powerless71", "education", "sei"))
set.seed(9112)
wheaton <- write_data(as.data.frame(mvrnorm(932, mu = rep(0, 6), Sigma = wcov, empirical = TRUE)), "wheaton")

# ---------------------------------------------------------------- cases
cases <- list()
add <- function(id, model, data, estimator = "ML", std.lv = FALSE, mm = NULL, mi = TRUE,
                htmt_ok = TRUE) {
  cases[[id]] <<- list(id = id, model = model, data = data, estimator = estimator,
                        std_lv = std.lv, mm = mm, mi = mi)
}

m_second <- '
  f1 =~ a1 + a2 + a3
  f2 =~ b1 + b2 + b3
  f3 =~ c1 + c2 + c3
  g =~ f1 + f2 + f3'
for (e in c("ML", "GLS", "ULS")) add(paste0("second_order_", e), m_second, "second_order", e, mm = m_second)

m_mimic <- '
  f =~ y1 + y2 + y3 + y4
  f ~ x1 + dmy'
for (e in c("ML", "GLS", "ULS")) add(paste0("mimic_binary_", e), m_mimic, "mimic", e,
                                     mm = 'f =~ y1 + y2 + y3 + y4')

m_serial <- '
  X =~ x1 + x2 + x3
  M1 =~ m1 + m2 + m3
  M2 =~ n1 + n2 + n3
  Y =~ y1 + y2 + y3
  M1 ~ a*X
  M2 ~ d*M1 + X
  Y ~ b*M2 + M1 + c*X
  serial := a*d*b
  total := c + a*d*b'
mm_med <- '
  X =~ x1 + x2 + x3
  M1 =~ m1 + m2 + m3
  M2 =~ n1 + n2 + n3
  Y =~ y1 + y2 + y3'
for (e in c("ML", "GLS")) add(paste0("serial_mediation_", e), m_serial, "mediation", e, mm = mm_med)

m_parallel <- '
  X =~ x1 + x2 + x3
  M1 =~ m1 + m2 + m3
  M2 =~ n1 + n2 + n3
  Y =~ y1 + y2 + y3
  M1 ~ a1*X
  M2 ~ a2*X
  Y ~ b1*M1 + b2*M2 + c*X
  M1 ~~ M2
  ind1 := a1*b1
  ind2 := a2*b2
  contrast := a1*b1 - a2*b2
  total := c + a1*b1 + a2*b2'
for (e in c("ML", "ULS")) add(paste0("parallel_mediation_", e), m_parallel, "mediation", e, mm = mm_med)

m_shared <- '
  f1 =~ x1 + l*x2 + l*x3 + x4
  f2 =~ y1 + k*y2 + k*y3 + y4
  x2 ~~ v*x2
  x3 ~~ v*x3
  x4 ~~ y4'
for (e in c("ML", "GLS")) add(paste0("shared_labels_", e), m_shared, "cfa2", e, mm = m_shared)

m_fixed <- '
  f1 =~ x1 + 0.9*x2 + x3 + x4
  f2 =~ 1*y1 + 0.8*y2 + y3 + y4
  f1 ~~ 0.3*f2
  x1 ~~ 0.4*x1'
for (e in c("ML", "ULS")) add(paste0("fixed_values_", e), m_fixed, "cfa2", e, mm = m_fixed)

m_fixed_var <- '
  f1 =~ NA*x1 + x2 + x3 + x4
  f1 ~~ 0.5*f1
  f2 =~ y1 + y2 + y3 + y4'
add("fixed_latent_variance_ML", m_fixed_var, "cfa2", "ML", mm = m_fixed_var)

m_cfa3 <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1 + y2 + y3
  f3 =~ z1 + z2 + z3'
for (e in c("ML", "GLS", "ULS")) add(paste0("std_lv_cfa_", e), m_cfa3, "cfa3", e, std.lv = TRUE, mm = m_cfa3)
m_std_sem <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1 + y2 + y3
  f3 =~ z1 + z2 + z3
  f3 ~ f1 + f2'
add("std_lv_sem_ML", m_std_sem, "cfa3", "ML", std.lv = TRUE, mm = m_cfa3)

m_swiss <- '
  education ~ agriculture + catholic
  fertility ~ education + agriculture + catholic
  infant ~ fertility'
for (e in c("ML", "GLS", "ULS")) add(paste0("path_swiss_", e), m_swiss, "swiss", e)
m_swiss_ind <- '
  education ~ a*agriculture + catholic
  fertility ~ b*education + agriculture
  infant ~ fertility
  ind := a*b'
for (e in c("ML", "GLS")) add(paste0("path_swiss_indirect_", e), m_swiss_ind, "swiss", e)

m_single <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1
  y1 ~~ 0.3*y1
  f3 =~ z1 + z2 + z3
  f2 ~ f1
  f3 ~ f2'
add("single_indicator_ML", m_single, "single", "ML", mm = '
  f1 =~ x1 + x2 + x3
  f2 =~ y1
  y1 ~~ 0.3*y1
  f3 =~ z1 + z2 + z3')

m_heywood <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1 + y2 + y3'
add("heywood_ML", m_heywood, "heywood", "ML", mm = m_heywood)

m_skewed <- '
  f1 =~ x1 + x2 + x3 + x4
  f2 =~ y1 + y2 + y3
  f2 ~ f1'
for (e in c("ML", "ULS")) add(paste0("skewed_", e), m_skewed, "skewed", e,
                              mm = 'f1 =~ x1 + x2 + x3 + x4\n f2 =~ y1 + y2 + y3')

m_small <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1 + y2 + y3
  f1 ~ w
  f2 ~ f1 + w'
for (e in c("ML", "GLS", "ULS")) add(paste0("small_n60_", e), m_small, "small", e,
                                     mm = 'f1 =~ x1 + x2 + x3\n f2 =~ y1 + y2 + y3')

m_big <- '
  F1 =~ a1 + a2 + a3 + a4 + a5
  F2 =~ b1 + b2 + b3 + b4 + b5
  F3 =~ c1 + c2 + c3 + c4 + c5
  F4 =~ d1 + d2 + d3 + d4 + d5
  F5 =~ e1 + e2 + e3 + e4 + e5
  F6 =~ h1 + h2 + h3 + h4 + h5
  F3 ~ F1 + F2
  F4 ~ F3
  F5 ~ F3 + F1
  F6 ~ F4 + F5'
mm_big <- '
  F1 =~ a1 + a2 + a3 + a4 + a5
  F2 =~ b1 + b2 + b3 + b4 + b5
  F3 =~ c1 + c2 + c3 + c4 + c5
  F4 =~ d1 + d2 + d3 + d4 + d5
  F5 =~ e1 + e2 + e3 + e4 + e5
  F6 =~ h1 + h2 + h3 + h4 + h5'
for (e in c("ML", "GLS")) add(paste0("sem_6x5_n1000_", e), m_big, "big", e, mm = mm_big)

m_pub <- '
  visual =~ x1 + x2 + x3
  textual =~ x4 + x5 + x6'
for (e in c("ML", "GLS", "ULS")) add(paste0("published_cfa_", e), m_pub, "published", e, mm = m_pub)

m_wheaton <- '
  ses =~ education + sei
  alien67 =~ anomia67 + powerless67
  alien71 =~ anomia71 + powerless71
  alien67 ~ ses
  alien71 ~ alien67 + ses
  anomia67 ~~ anomia71
  powerless67 ~~ powerless71'
add("wheaton_ML", m_wheaton, "wheaton", "ML", mm = '
  ses =~ education + sei
  alien67 =~ anomia67 + powerless67
  alien71 =~ anomia71 + powerless71
  anomia67 ~~ anomia71
  powerless67 ~~ powerless71')

m_mimic_med <- '
  f1 =~ y1 + y2
  f2 =~ y3 + y4
  f1 ~ a*x1 + dmy
  f2 ~ b*f1 + x1 + dmy
  ind := a*b'
for (e in c("ML", "GLS", "ULS")) add(paste0("mimic_mediation_", e), m_mimic_med, "mimic", e,
                                     mm = 'f1 =~ y1 + y2\n f2 =~ y3 + y4')

m_lat_cov <- '
  f1 =~ x1 + x2 + x3
  f2 =~ y1 + y2 + y3
  f2 ~ f1 + w'
for (e in c("ML", "GLS", "ULS")) add(paste0("latent_and_covariate_", e), m_lat_cov, "small", e,
                                     mm = 'f1 =~ x1 + x2 + x3\n f2 =~ y1 + y2 + y3')

m_two_out <- '
  education ~ agriculture
  examination ~ agriculture + catholic
  fertility ~ education + examination'
# under ULS, lavaan's optimiser finds no solution for this one (4,913 iterations)
for (e in c("ML", "GLS", "ULS")) add(paste0("two_outcomes_swiss_", e), m_two_out, "swiss", e)

# a predictor given a variance or covariance in the syntax is "random", not a fixed.x
# covariate (lavaan warns): its moments are free, with no automatic covariances
m_random <- '
  education ~ agriculture + catholic + examination
  fertility ~ education + agriculture
  agriculture ~~ agriculture'
for (e in c("ML", "GLS")) add(paste0("random_covariate_swiss_", e), m_random, "swiss", e)
add("mimic_covariates_covary_ML", 'f =~ y1 + y2 + y3 + y4\n f ~ x1 + dmy\n x1 ~~ dmy', "mimic", "ML",
    mm = 'f =~ y1 + y2 + y3 + y4')

m_direct <- '
  f =~ y1 + y2 + y3 + y4
  f ~ x1 + dmy
  y1 ~ dmy'
for (e in c("ML", "GLS", "ULS")) add(paste0("mimic_direct_effect_", e), m_direct, "mimic", e,
                                     mm = 'f =~ y1 + y2 + y3 + y4')

m_lat_obs <- '
  X =~ x1 + x2 + x3
  M1 =~ m1 + m2 + m3
  M1 ~ a*X
  y1 ~ b*M1 + X
  ind := a*b'
for (e in c("ML", "ULS")) add(paste0("latent_to_observed_", e), m_lat_obs, "mediation", e,
                              mm = 'X =~ x1 + x2 + x3\n M1 =~ m1 + m2 + m3')

m_fixed_path <- '
  X =~ x1 + x2 + x3
  M1 =~ m1 + m2 + m3
  M2 =~ n1 + n2 + n3
  Y =~ y1 + y2 + y3
  M1 ~ X
  M2 ~ X
  Y ~ 0.3*M1 + M2
  M1 ~~ M2'
add("fixed_path_residual_cov_ML", m_fixed_path, "mediation", "ML", mm = mm_med)

m_std_labels <- '
  f1 =~ x1 + a*x2 + a*x3
  f2 =~ y1 + y2 + y3
  f3 =~ z1 + z2 + z3'
for (e in c("ML", "GLS")) add(paste0("std_lv_labels_", e), m_std_labels, "cfa3", e, std.lv = TRUE,
                              mm = m_std_labels)

# ---------------------------------------------------------------- outputs
datasets <- list(second_order = second_order, mimic = mimic, mediation = mediation, cfa2 = cfa2,
                 cfa3 = cfa3, swiss = swiss_d, single = single, heywood = heywood, skewed = skewed,
                 small = small, big = big, published = published, wheaton = wheaton)
fm_names <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "nfi",
              "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "gfi", "agfi",
              "logl", "aic", "bic")

rows_of <- function(df, cols) {
  df <- as.data.frame(df)[, cols, drop = FALSE]
  lapply(seq_len(nrow(df)), function(i) as.list(df[i, , drop = FALSE]))
}

run <- function(cs) {
  d <- datasets[[cs$data]]
  fit <- sem(cs$model, data = d, estimator = cs$estimator, std.lv = cs$std_lv)
  out <- list(model = cs$model, data = sprintf("battery_%s.csv", cs$data), estimator = cs$estimator,
              std_lv = cs$std_lv, converged = lavInspect(fit, "converged"))
  if (!out$converged) {   # lavaan found no solution: keep its last iterate only
    out$iterations <- lavInspect(fit, "iterations")
    out$last_iterate <- rows_of(parameterEstimates(fit), c("lhs", "op", "rhs", "est"))
    return(out)
  }
  out$fit <- as.list(fitMeasures(fit, fm_names))
  pe <- parameterEstimates(fit)
  pe$label <- NULL
  out$estimates <- rows_of(pe, c("lhs", "op", "rhs", "est", "se", "z", "pvalue"))
  ss <- standardizedSolution(fit)
  out$std <- rows_of(ss, c("lhs", "op", "rhs", "est.std", "se", "z", "pvalue"))
  r2 <- lavInspect(fit, "r2")
  out$r2 <- as.list(r2)
  if (cs$estimator == "ML" && cs$mi) {
    mi <- modindices(fit, minimum.value = -Inf)
    out$modindices <- rows_of(mi, c("lhs", "op", "rhs", "mi", "epc", "sepc.all"))
  }
  if (!is.null(cs$mm)) {
    cf <- cfa(cs$mm, data = d, estimator = cs$estimator, std.lv = cs$std_lv)
    omega <- compRelSEM(cf)
    alpha <- compRelSEM(cf, tau.eq = TRUE)
    ave <- AVE(cf)
    ssc <- standardizedSolution(cf)
    ssc <- ssc[ssc$op == "=~", ]
    meas <- list(model = cs$mm, converged = lavInspect(cf, "converged"),
                 omega = as.list(omega), alpha = as.list(alpha), ave = as.list(ave),
                 std_loadings = rows_of(ssc, c("lhs", "op", "rhs", "est.std", "se")))
    # HTMT among constructs with at least two observed indicators
    lv <- lavNames(cf, "lv.x")
    lvs <- lavNames(cf, "lv")
    pt <- parTable(cf)
    multi <- Filter(function(f) sum(pt$op == "=~" & pt$lhs == f & pt$rhs %in% lavNames(cf, "ov")) >= 2, lvs)
    if (length(multi) >= 2) {
      items <- sapply(multi, function(f) paste(pt$rhs[pt$op == "=~" & pt$lhs == f], collapse = " + "))
      hm <- paste(multi, "=~", items, collapse = "\n")
      obs <- unique(unlist(lapply(multi, function(f) pt$rhs[pt$op == "=~" & pt$lhs == f])))
      meas$htmt <- unclass(htmt(hm, data = d[, obs], htmt2 = FALSE))
      meas$htmt2 <- unclass(htmt(hm, data = d[, obs], htmt2 = TRUE))
      meas$htmt_constructs <- multi
    }
    out$measurement <- meas
  }
  out
}

results <- lapply(cases, function(cs) suppressWarnings(run(cs)))

# ---------------------------------------------------------------- a model lavaan cannot fit
# A factor whose marker is exactly uncorrelated with its other indicators (the other two
# correlate .5): the likelihood improves without bound as the loadings grow and the factor
# variance shrinks, so no solution exists; lavaan reports non-convergence.
Sig <- diag(6)
Sig[2, 3] <- Sig[3, 2] <- 0.5; Sig[4, 5] <- Sig[5, 4] <- 0.5
Sig[4, 6] <- Sig[6, 4] <- 0.4; Sig[5, 6] <- Sig[6, 5] <- 0.45
set.seed(9113)
nc <- as.data.frame(mvrnorm(60, rep(0, 6), Sig, empirical = TRUE))
names(nc) <- c("x1", "x2", "x3", "y1", "y2", "y3")
nonconv <- write_data(nc, "nonconverge")
m_nc <- 'f =~ x1 + x2 + x3\n g =~ y1 + y2 + y3'
fit_nc <- suppressWarnings(sem(m_nc, data = nonconv))
nonconvergence <- list(model = m_nc, data = "battery_nonconverge.csv",
                       converged = lavInspect(fit_nc, "converged"),
                       iterations = lavInspect(fit_nc, "iterations"),
                       estimates = rows_of(parameterEstimates(fit_nc), c("lhs", "op", "rhs", "est")))

write_json(list(lavaan_version = as.character(packageVersion("lavaan")),
                semtools_version = as.character(packageVersion("semTools")),
                cases = results, nonconvergence = nonconvergence),
           "battery_reference.json", auto_unbox = TRUE, digits = NA, pretty = FALSE, na = "null")
