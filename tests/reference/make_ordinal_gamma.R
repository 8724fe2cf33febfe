# Full Gamma (NACOV) and WLS.V of ordinal fits, and edge cases of the polychoric step (issue 12,
# helper ordstats). lavaan 0.6.14. Run from this folder: Rscript make_ordinal_gamma.R
# (reads ordinal_sim.csv, writes ordinal_edge.csv, ordinal_two_empty.csv, ordinal_binary.csv and ordinal_gamma_reference.json).
source("ref_common.R")
t_script <- proc.time()

sim <- read.csv("ordinal_sim.csv")
ord8 <- paste0("y", 1:8)
sim_model <- ' f1 =~ y1 + y2 + y3 + y4
 f2 =~ y5 + y6 + y7 + y8 '
sim_mixed <- ' f1 =~ y1 + y2 + y3 + y4 + c1
 f2 =~ y5 + y6 + y7 + y8 + c2 '

gamma_entry <- function(f) {
  list(ov_names = I(lavNames(f, "ov")),
       wls_obs = conv(lavInspect(f, "wls.obs")),
       gamma = conv(unname(lavInspect(f, "gamma"))),
       wls_v = conv(unname(lavInspect(f, "wls.v"))),
       nobs = lavInspect(f, "nobs"))
}
out <- list(lavaan_version = as.character(packageVersion("lavaan")))
out$sim_wlsmv <- gamma_entry(cfa(sim_model, sim, ordered = ord8))
out$sim_mixed_wlsmv <- gamma_entry(cfa(sim_mixed, sim, ordered = ord8))

## ---- edge cases: sparse tables, zero cells, a gap in the codes, a 2 x 2 table with one zero cell ----
# N = 60; latent y* ~ N(0, R) with all correlations .5 (MASS::mvrnorm, set.seed(1212));
# e1: binary (cut at 0.3); e2: binary, but forced to 2 wherever e1 == 2 (cell (2, 1) empty);
# e3: cut at -1.2, -0.4, 0.5, 1.4 and then code 3 renamed 4 and codes 4, 5 renamed 5, 6 (codes 1, 2, 4, 5, 6: a gap);
# e4: 4 categories cut at -1, 0, 1.5 (sparse, zero cells against e3).
set.seed(1212)
n_edge <- 60
R <- matrix(.5, 4, 4); diag(R) <- 1
ys <- MASS::mvrnorm(n_edge, rep(0, 4), R)
e1 <- 1L + findInterval(ys[, 1], 0.3)
e2 <- 1L + findInterval(ys[, 2], -0.2); e2[e1 == 2L] <- 2L
e3 <- 1L + findInterval(ys[, 3], c(-1.2, -0.4, 0.5, 1.4)); e3 <- c(1L, 2L, 4L, 5L, 6L)[e3]
e4 <- 1L + findInterval(ys[, 4], c(-1, 0, 1.5))
edge <- data.frame(e1 = e1, e2 = e2, e3 = e3, e4 = e4)
write.csv(edge, "ordinal_edge.csv", row.names = FALSE)
fe <- lavCor(edge, ordered = names(edge), output = "fit", se = "standard")
out$edge <- gamma_entry(fe)
out$edge$cor <- conv(lavInspect(fe, "sampstat")$cov)
out$edge$th <- conv(lavInspect(fe, "sampstat")$th)
out$edge$tables <- lapply(list(e1_e2 = table(edge$e1, edge$e2), e3_e4 = table(edge$e3, edge$e4)),
                          function(t) conv(unclass(t)))
pe <- as.data.frame(parameterEstimates(fe))
out$edge$params <- conv(pe[, c("lhs", "op", "rhs", "est", "se")])

## ---- a 2 x 2 table with two empty cells (lavaan sets rho = 1 and warns), no randomness ----
two <- data.frame(a = c(rep(1, 30), rep(2, 20)), b = c(rep(1, 30), rep(2, 20)), c = rep(c(1, 2, 3, 2, 1), 10))
write.csv(two, "ordinal_two_empty.csv", row.names = FALSE)
ft <- suppressWarnings(lavCor(two, ordered = names(two), output = "fit", se = "standard"))
out$two_empty <- gamma_entry(ft)
out$two_empty$cor <- conv(lavInspect(ft, "sampstat")$cov)

## ---- binary and 6-/7-category items, N = 200 (set.seed(1214)): b1, b2 split exactly 100 / 100 ----
# (both thresholds exactly 0: lavaan's rho = -cos(2 pi f11 / N) rule for 2 x 2 tables), b3 binary,
# s7 and s6 with 7 and 6 categories; latent correlations .45 (MASS::mvrnorm)
set.seed(1214)
n_bin <- 200
Rb <- matrix(.45, 5, 5); diag(Rb) <- 1
yb <- MASS::mvrnorm(n_bin, rep(0, 5), Rb)
binary <- data.frame(b1 = 1L + (rank(yb[, 1], ties.method = "first") > n_bin / 2),
                     b2 = 1L + (rank(yb[, 2], ties.method = "first") > n_bin / 2),
                     b3 = 1L + findInterval(yb[, 3], 0.8),
                     s7 = 1L + findInterval(yb[, 4], c(-1.6, -1, -0.4, 0.2, 0.9, 1.5)),
                     s6 = 1L + findInterval(yb[, 5], c(-1.2, -0.5, 0, 0.6, 1.3)))
write.csv(binary, "ordinal_binary.csv", row.names = FALSE)
fb <- lavCor(binary, ordered = names(binary), output = "fit", se = "standard")
out$binary <- gamma_entry(fb)
out$binary$cor <- conv(lavInspect(fb, "sampstat")$cov)
out$binary$th <- conv(lavInspect(fb, "sampstat")$th)

## ---- the bivariate normal CDF lavaan calls (pbivnorm), at points in every quadrature regime ----
set.seed(1213)
h <- round(rnorm(300, 0, 1.5), 6); k <- round(rnorm(300, 0, 1.5), 6)
r <- round(c(runif(280, -1, 1), 0, 0.3, 0.75, 0.925, -0.925, 0.999, -0.999, 0.9999, -0.9999, 1, -1,
             0.2999, 0.7499, 0.9249, -0.3, -0.75, 0.5, -0.5, 0.95, -0.95), 6)
out$pbivnorm <- list(h = I(h), k = I(k), rho = I(r), p = I(pbivnorm::pbivnorm(h, k, r)))

tt <- proc.time() - t_script
out$script_seconds <- unname(tt["elapsed"])
write_ref(out, "ordinal_gamma_reference.json")
cat("make_ordinal_gamma.R done in", out$script_seconds, "s\n")
