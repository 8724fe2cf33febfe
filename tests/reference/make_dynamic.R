# Dynamic fit-index cut-offs from the R package `dynamic` 1.1.0 (McNeish & Wolf), run from its
# public source (github.com/melissagwolf/dynamic, commit 6d57ce2, the last 95/5-rule version).
# The package is not on CRAN for this R and its data generator `simstandard` is not installed,
# so the package's own R files are sourced and simstandard::sim_standardized is replaced by
# sim_standardized_standin() below (multivariate normal data with the standardised model's
# implied correlation matrix: every variable unit variance, residual covariances between
# observed variables read as residual correlations).
# Run from this folder:  Rscript make_dynamic.R /path/to/dynamic/R [reps]
#   (e.g. git -C <mirror> show 6d57ce2:R/helper.R > /tmp/dyn/helper.R, same for cfaHB.R, cfaOne.R)
suppressMessages({library(lavaan); library(dplyr); library(purrr); library(tidyr); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
src <- args[1]
reps <- if (length(args) > 1) as.integer(args[2]) else 500L

sim_standardized_standin <- function(m, n, latent = FALSE, errors = FALSE) {
  pt <- lavaanify(m, fixed.x = FALSE)
  pt <- pt[pt$lhs != pt$rhs | pt$op != "~~", ]
  lv <- unique(pt$lhs[pt$op == "=~"])
  ov <- unique(setdiff(c(pt$rhs[pt$op == "=~"], pt$lhs[pt$op == "~~"], pt$rhs[pt$op == "~~"]), lv))
  nm <- c(ov, lv); k <- length(nm)
  A <- matrix(0, k, k, dimnames = list(nm, nm)); R <- matrix(0, k, k, dimnames = list(nm, nm))
  for (i in seq_len(nrow(pt))) {
    if (pt$op[i] == "=~") A[pt$rhs[i], pt$lhs[i]] <- pt$ustart[i]
    if (pt$op[i] == "~~" && pt$lhs[i] != pt$rhs[i]) { R[pt$lhs[i], pt$rhs[i]] <- pt$ustart[i]; R[pt$rhs[i], pt$lhs[i]] <- pt$ustart[i] }
  }
  B <- solve(diag(k) - A); S <- diag(k); dimnames(S) <- list(nm, nm)
  for (it in 1:500) {
    S[R != 0] <- (R * sqrt(outer(diag(S), diag(S))))[R != 0]
    C <- B %*% S %*% t(B)
    if (max(abs(diag(C) - 1)) < 1e-12) break
    for (v in ov) S[v, v] <- S[v, v] + 1 - C[v, v]
  }
  C <- B %*% S %*% t(B)
  as.data.frame(MASS::mvrnorm(n, rep(0, length(ov)), C[ov, ov]))
}
for (f in c("helper.R", "cfaHB.R", "cfaOne.R")) {
  code <- readLines(file.path(src, f))
  code <- gsub("simstandard::sim_standardized", "sim_standardized_standin", code, fixed = TRUE)
  # dplyr < 1.1 has no reframe(); its summarise() returns several rows per group the same way
  if (packageVersion("dplyr") < "1.1.0") code <- gsub("reframe(", "summarise(", code, fixed = TRUE)
  eval(parse(text = code))
}

hs <- read.csv("hs.csv")
run <- function(model, fun, n_label) {
  fit <- cfa(model, data = hs)
  t <- system.time(out <- fun(fit, reps = reps))
  cut <- as.data.frame(out$cutoffs)
  list(model = model, n = nobs(fit), reps = reps, seconds = unname(t["elapsed"]),
       cpu_seconds = unname(t["user.self"] + t["sys.self"]),
       cutoffs = list(rows = rownames(cut), SRMR = as.character(cut$SRMR), RMSEA = as.character(cut$RMSEA),
                      CFI = as.character(cut$CFI), Magnitude = as.character(cut$Magnitude)),
       misspecified_dgm = if (fun_name(fun) == "cfaHB") DGM_Multi_HB(cfa_lavmod(fit)) else DGM_one(cfa_lavmod(fit)),
       distributions = out$data)
}
fun_name <- function(f) if (identical(f, cfaHB)) "cfaHB" else "cfaOne"
out <- list(source = "github.com/melissagwolf/dynamic@6d57ce2 (dynamic 1.1.0), simstandard replaced by a stand-in",
            lavaan_version = as.character(packageVersion("lavaan")),
            three_factor = run("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", cfaHB),
            one_factor = run("textual =~ x4 + x5 + x6 + x1 + x2 + x3", cfaOne),
            load_average_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) ""))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "dynamic_reference.json")
cat("done:", out$three_factor$seconds, out$one_factor$seconds, "\n")
