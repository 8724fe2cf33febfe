# Parameter tables (no fitting) for lcsem's spec layer: lavaan 0.6.14's partable for
# multi-group and mean-structure cases not covered by make_groups.R (std.lv with equal
# loadings, fixed.x covariates, c() on intercepts and latent means, start(c()), group.partial
# on covariances and latent means, labels meeting group.equal, three groups).
# Run from this folder: Rscript make_spec_groups.R   (writes spec_groups_reference.json)
source("ref_common.R")
hs <- read.csv("hs.csv")
hs$grade_grp <- ifelse(hs$grade == 7, "g7", "g8")
hs$age_grp <- c("young", "mid", "old")[cut(hs$ageyr, c(-Inf, 12, 13, Inf), labels = FALSE)]
hs_model <- ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9 '
cases <- list(
  std_lv_metric = list(model = hs_model, group = "school", std.lv = TRUE, group.equal = "loadings"),
  std_lv_metric_lv_var = list(model = hs_model, group = "school", std.lv = TRUE,
                              group.equal = c("loadings", "lv.variances")),
  fixed_x_groups = list(model = ' visual =~ x1 + x2 + x3
 visual ~ ageyr + agemo
 x4 ~ visual ', group = "school", group.equal = c("loadings", "intercepts", "regressions", "residuals")),
  fixed_x_single_means = list(model = ' visual =~ x1 + x2 + x3
 visual ~ ageyr + agemo ', meanstructure = TRUE),
  fixed_x_user_intercept = list(model = ' visual =~ x1 + x2 + x3
 visual ~ ageyr + agemo + sex
 ageyr ~ 1 '),
  c_intercepts = list(model = ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 x1 ~ c(0, NA)*1
 visual ~ c(0, NA)*1
 textual ~ c(m1, m1)*1
 x5 ~ start(c(2, 3))*1 ', group = "school"),
  partial_cov_means = list(model = hs_model, group = "school",
                           group.equal = c("loadings", "intercepts", "lv.covariances", "means", "residuals"),
                           group.partial = c("visual ~~ textual", "speed ~ 1", "x2 ~~ x2", "textual=~x5")),
  labels_meet_equal = list(model = ' visual =~ x1 + a*x2 + c(b1, b2)*x3
 textual =~ x4 + x5 + x6
 x6 ~ c(NA, 0.5)*1
 x4 ~~ c(v, w)*x4 ', group = "school",
                           group.equal = c("loadings", "intercepts", "residuals")),
  three_groups = list(model = ' visual =~ x1 + c(a, a, b)*x2 + x3
 textual =~ x4 + x5 + c(1, NA, NA)*x6
 x1 ~~ x4 ', group = "age_grp", group.equal = c("loadings", "intercepts", "residual.covariances")),
  rescov_partial = list(model = ' visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 x1 ~~ x4
 x2 ~~ x5
 textual ~ visual ', group = "grade_grp",
                        group.equal = c("residual.covariances", "regressions", "lv.variances", "intercepts"),
                        group.partial = c("x2 ~~ x5", "x1 ~ 1"))
)
out <- list(lavaan_version = as.character(packageVersion("lavaan")), data = "hs.csv",
            derived_groups = list(grade_grp = "g7 if grade == 7 else g8",
                                  age_grp = "young if ageyr <= 12, mid if 13, old if >= 14"),
            cases = list())
for (name in names(cases)) {
  args <- cases[[name]]
  f <- do.call("sem", c(list(data = hs, do.fit = FALSE), args))
  pt <- parTable(f)
  out$cases[[name]] <- list(model = args$model, options = args[setdiff(names(args), "model")],
                            ngroups = lavInspect(f, "ngroups"),
                            group_labels = I(lavInspect(f, "group.label")),
                            partable = conv(pt[, c("lhs", "op", "rhs", "group", "free", "ustart",
                                                   "exo", "label", "plabel", "user")]))
}
write_ref(out, "spec_groups_reference.json")
cat("make_spec_groups.R done\n")
