# Helpers shared by make_groups.R, make_missing_robust.R, make_ordinal.R and make_power.R.
# Sourced, not run on its own. Turns a fitted lavaan object into a plain list that
# jsonlite writes with full precision (digits = NA, 15 significant digits) and NA/NaN/Inf as null.
suppressMessages({library(lavaan); library(semTools); library(jsonlite)})

`%||%` <- function(a, b) if (is.null(a)) b else a

# Recursively strip lavaan classes: data frames stay data frames (written column-wise:
# {"lhs": [...], "op": [...], ...}, so pandas.DataFrame(obj) rebuilds them), matrices become {rownames, colnames, values (row-major)}, named vectors
# become objects, unnamed vectors arrays (length 1: a scalar).
conv <- function(x) {
  if (is.null(x)) return(NULL)
  if (is.data.frame(x)) {
    x <- as.data.frame(x, stringsAsFactors = FALSE)
    class(x) <- "data.frame"
    for (j in seq_along(x)) {
      if (is.factor(x[[j]])) x[[j]] <- as.character(x[[j]])
      attributes(x[[j]]) <- NULL
    }
    return(x)
  }
  if (is.matrix(x)) {
    v <- x; attributes(v) <- NULL; dim(v) <- dim(x)
    return(list(rownames = I(rownames(x) %||% character(0)),
                colnames = I(colnames(x) %||% character(0)),
                values = v))
  }
  if (is.list(x)) {
    nm <- names(x)
    out <- lapply(x, conv)
    names(out) <- nm
    return(out)
  }
  if (is.atomic(x)) {
    nm <- names(x)
    v <- x; attributes(v) <- NULL
    if (is.factor(x)) v <- as.character(x)
    if (!is.null(nm)) { out <- as.list(v); names(out) <- nm; return(out) }
    if (length(v) == 1) return(v)   # scalars unboxed; longer vectors stay arrays
    return(I(v))
  }
  x
}

write_ref <- function(x, file) {
  write_json(x, file, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE, dataframe = "columns")
}

pe_cols <- c("lhs", "op", "rhs", "block", "group", "label", "est", "se", "z", "pvalue",
             "ci.lower", "ci.upper", "std.lv", "std.all", "std.nox")

# parameterEstimates with a fixed column set: single-group fits get block = group = 1
# (lavaan omits those columns there); defined (:=) and constraint (==) rows keep lavaan's 0.
param_table <- function(fit, ...) {
  pe <- parameterEstimates(fit, standardized = TRUE, remove.nonfree = FALSE, ...)
  pe <- as.data.frame(pe)
  if (is.null(pe$block)) pe$block <- ifelse(pe$op %in% c(":=", "==", "<", ">"), 0L, 1L)
  if (is.null(pe$group)) pe$group <- ifelse(pe$op %in% c(":=", "==", "<", ">"), 0L, 1L)
  if (is.null(pe$label)) pe$label <- ""
  for (cc in pe_cols) if (is.null(pe[[cc]])) pe[[cc]] <- NA_real_
  conv(pe[, pe_cols])
}

std_table <- function(fit) {
  ss <- as.data.frame(standardizedSolution(fit, type = "std.all"))
  if (is.null(ss$group)) ss$group <- ifelse(ss$op %in% c(":=", "==", "<", ">"), 0L, 1L)
  if (is.null(ss$label)) ss$label <- ""
  keep <- intersect(c("lhs", "op", "rhs", "group", "label", "est.std", "se", "z", "pvalue",
                      "ci.lower", "ci.upper"), names(ss))
  conv(ss[, keep])
}

partable_of <- function(fit) {
  pt <- as.data.frame(parTable(fit))
  keep <- intersect(c("id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart",
                      "exo", "label", "plabel"), names(pt))
  conv(pt[, keep])
}

per_group <- function(x, labels) {
  # lavInspect returns a bare object for one group and a list per group otherwise
  if (length(labels) <= 1) { x <- list(x); names(x) <- if (length(labels)) labels else "1" }
  conv(x)
}

# Everything the references store about one fit. `options` is the named list of the
# lavaan options passed (written out verbatim so a test can rebuild the call).
dump_fit <- function(fit, model, options, extra = list()) {
  labels <- lavInspect(fit, "group.label")
  ngroups <- lavInspect(fit, "ngroups")
  glab <- if (length(labels)) labels else "1"
  out <- list(
    model = model,
    options = options,
    converged = lavInspect(fit, "converged"),
    iterations = lavInspect(fit, "iterations"),
    ngroups = ngroups,
    group_labels = I(as.character(labels)),
    nobs = I(as.numeric(lavInspect(fit, "nobs"))),
    norig = I(as.numeric(lavInspect(fit, "norig"))),
    ntotal = lavInspect(fit, "ntotal"),
    npar = lavInspect(fit, "npar"),
    fit_measures = conv(fitMeasures(fit)),
    params = param_table(fit),
    std_solution = std_table(fit),
    partable = partable_of(fit),
    r2 = per_group(lavInspect(fit, "r2"), glab),
    sampstat = per_group(lavInspect(fit, "sampstat"), glab),
    implied = per_group(lavInspect(fit, "implied"), glab),
    options_lavaan = conv(lavInspect(fit, "options")[c("estimator", "se", "test", "information",
        "observed.information", "h1.information", "missing", "meanstructure", "int.ov.free",
        "int.lv.free", "fixed.x", "std.lv", "likelihood", "parameterization", "group.equal",
        "group.partial", "mimic", "estimator.args")])
  )
  for (n in names(extra)) out[[n]] <- extra[[n]]
  out
}

# lavTestLRT as a plain table (rows in lavaan's order: sorted by df)
lrt_table <- function(...) {
  a <- lavTestLRT(...)
  d <- as.data.frame(a)
  d$model <- rownames(a)
  rownames(d) <- NULL
  list(method = attr(a, "heading") %||% "", table = conv(d))
}

timed <- function(expr) {
  t <- system.time(v <- force(expr))
  list(value = v, seconds = unname(t["elapsed"]))
}
