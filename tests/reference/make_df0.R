# lavaan 0.6.14 fit measures of a just-identified (df = 0) model: lavaan's conventions
# (RMSEA 0 with CI 0/0, TLI 1, CFI 1, AGFI 1, p-values NA). Writes df0_reference.json.
# Run: Rscript tests/reference/make_df0.R  (from the repository root)
library(lavaan)
library(jsonlite)
fit <- cfa("f =~ x1 + x2 + x3", data = HolzingerSwineford1939)
names <- c("chisq", "df", "pvalue", "cfi", "tli", "nfi", "rmsea", "rmsea.ci.lower",
           "rmsea.ci.upper", "rmsea.pvalue", "srmr", "gfi", "agfi")
fm <- fitMeasures(fit, names)
out <- list(lavaan_version = as.character(packageVersion("lavaan")),
            model = "f =~ x1 + x2 + x3", data = "HolzingerSwineford1939 (tests/reference/hs.csv)",
            fit_measures = setNames(lapply(names, function(n) unname(fm[n])), gsub(".", "_", names, fixed = TRUE)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/df0_reference.json")
