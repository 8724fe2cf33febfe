# lavaan reference for the extended learning-culture model on data lavaan's own tests never saw
# (extended_sim.csv: lcsem.simulate(lc_extended_model(), 450, seed=2027, likert=5)).
# Run from this folder: Rscript make_extended_reference.R
suppressMessages({library(lavaan); library(jsonlite)})
d <- read.csv("extended_sim.csv")
m <- '
mgmt_comp =~ mc_vision + mc_coaching + mc_sharing + mc_resources
learning_proc =~ lp_info_flow + lp_feedback + lp_lessons + lp_review
emp_ability =~ ea_skills + ea_contribute + ea_training
culture =~ lc_continuous + lc_inquiry + lc_team + lc_embedded + lc_empower + lc_connect + lc_leader
kmsuse =~ kms_frequency + kms_breadth + kms_reliance + kms_contribution
perf =~ op_roi + op_productivity + op_innovation + op_ideas + op_responsiveness
culture ~ mgmt_comp + learning_proc
kmsuse ~ a*culture + learning_proc + emp_ability
perf ~ b*kmsuse + c*culture
ind := a*b
total := c+a*b
'
f <- sem(m, data=d)
fm <- c("chisq","df","pvalue","cfi","tli","nfi","rmsea","rmsea.ci.lower","rmsea.ci.upper",
        "rmsea.pvalue","srmr","gfi","agfi","aic","bic","logl")
pe <- parameterEstimates(f, standardized=TRUE)
out <- list(lavaan_version=as.character(packageVersion("lavaan")), model=m,
            fit=as.list(fitMeasures(f, fm)),
            params=pe[, c("lhs","op","rhs","label","est","se","z","pvalue","std.all")],
            r2=as.list(inspect(f, "r2")))
write_json(out, "extended_reference.json", auto_unbox=TRUE, digits=10, pretty=TRUE)
