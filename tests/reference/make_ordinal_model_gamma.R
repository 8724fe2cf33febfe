# Full Gamma (NACOV, lavaan's N * acov of WLS.obs) per group for the ordinal fits of
# ordinal_reference.json, so that the model side of issue 12 (helper ordmodel: robust SEs,
# scaled-shifted tests) is tested against lavaan's own Gamma independently of lcsem's
# polychoric step. lavaan 0.6.14. Run from this folder: Rscript make_ordinal_model_gamma.R
# (reads ordinal_sim.csv and lc_ordinal.csv, writes ordinal_model_gamma.json).
source("ref_common.R")
sim <- read.csv("ordinal_sim.csv")
lc_ord <- read.csv("lc_ordinal.csv")
ord8 <- paste0("y", 1:8)
items <- c(paste0("culture", 1:6), paste0("kmsuse", 1:4), paste0("perf", 1:5))
sim_model <- ' f1 =~ y1 + y2 + y3 + y4
 f2 =~ y5 + y6 + y7 + y8 '
sim_mixed <- ' f1 =~ y1 + y2 + y3 + y4 + c1
 f2 =~ y5 + y6 + y7 + y8 + c2 '
lc_cfa <- ' culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
 kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
 perf =~ perf1 + perf2 + perf3 + perf4 + perf5 '
entry <- function(f) {
  g <- lavInspect(f, "gamma")
  if (!is.list(g) || is.matrix(g)) g <- list("1" = g)
  list(ov_names = I(lavNames(f, "ov")),
       gamma = lapply(g, function(m) unname(m)))
}
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            sim = entry(cfa(sim_model, sim, ordered = ord8)),
            sim_mixed = entry(cfa(sim_mixed, sim, ordered = ord8)),
            lc_ord = entry(cfa(lc_cfa, lc_ord, ordered = items)),
            lc_ord_sector = entry(cfa(lc_cfa, lc_ord, ordered = items, group = "sector")))
write_json(out, "ordinal_model_gamma.json", auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE)
