# Test vectors for src/analysis/stats: what R itself answers for the tests we reimplement.
#
#   Rscript src/analysis/stats/vectors/generate.R > src/analysis/stats/vectors/r-vectors.json
#
# Only for regenerating the vectors (CI has no R). Written without packages: the JSON is printed by
# hand, every number with 15 significant digits, or 17 where 15 would not read back as the same
# double: a number read back is the double R had.
# Infinite bounds are written as the strings "Infinity" / "-Infinity".
#
# Samples come from R's generators (set.seed, then rounded to a resolution, which also makes ties),
# except the large case, which uses a Lehmer generator both R and TypeScript compute exactly, so the
# JSON carries its parameters instead of 10,000 numbers.

num <- function(v) {
  if (is.na(v)) return("null")
  if (is.infinite(v)) return(if (v > 0) '"Infinity"' else '"-Infinity"')
  short <- sprintf("%.15g", v)
  if (as.numeric(short) == v) short else sprintf("%.17g", v)
}
arr <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ","), "]")
str <- function(s) paste0('"', s, '"')
obj <- function(...) {
  fields <- list(...)
  paste0("{", paste(sprintf('"%s":%s', names(fields), unlist(fields)), collapse = ","), "}")
}

# ---- the large case: Lehmer generator, state <- 48271 * state mod (2^31 - 1), exact in doubles
lehmer <- function(seed, n, offset, scale) {
  out <- numeric(n)
  state <- seed
  for (i in seq_len(n)) {
    state <- (48271 * state) %% 2147483647
    u <- state / 2147483647
    out[i] <- offset + floor(scale * 10 * (u * u)) / 10
  }
  out
}
lehmerSpec <- function(seed, n, offset, scale) obj(seed = num(seed), n = num(n), offset = num(offset), scale = num(scale))

# ---- Mann-Whitney
mw <- function(name, x, y, alternative = "two.sided", conf.level = 0.95, correct = TRUE, mu = 0, xSpec = NULL, ySpec = NULL) {
  r <- wilcox.test(x, y, alternative = alternative, mu = mu, exact = FALSE, correct = correct,
                   conf.int = TRUE, conf.level = conf.level)
  obj(name = str(name),
      x = if (is.null(xSpec)) arr(x) else obj(lehmer = xSpec),
      y = if (is.null(ySpec)) arr(y) else obj(lehmer = ySpec),
      alternative = str(alternative), confLevel = num(conf.level), correct = tolower(correct), mu = num(mu),
      statistic = num(unname(r$statistic)), pValue = num(r$p.value),
      confInt = arr(as.numeric(r$conf.int)), estimate = num(unname(r$estimate)))
}

set.seed(20240501)
lat <- function(n, meanlog = 5, sdlog = 0.4, digits = 1) round(rlnorm(n, meanlog, sdlog), digits)
a20 <- round(rnorm(20, 100, 15), 2); b25 <- round(rnorm(25, 108, 15), 2)
tiesX <- c(1, 2, 2, 3, 3, 3, 4, 5, 5, 6); tiesY <- c(2, 3, 3, 4, 4, 5, 6, 6, 6, 7, 8)
neg1 <- round(rnorm(15, -3, 2), 3); neg2 <- round(rnorm(12, -1, 2), 3)
lat200a <- round(rlnorm(200, 5, 0.5)); lat200b <- round(rlnorm(200, 5.1, 0.5))
lat500a <- lat(500); lat500b <- lat(500, meanlog = 5.03); lat500c <- lat(500, meanlog = 5.3)
small30 <- round(runif(30, 0, 10), 1); big80 <- round(runif(80, 1, 11), 1)
mwCases <- c(
  mw("small normal samples", a20, b25),
  mw("small normal samples, 90%", a20, b25, conf.level = 0.9),
  mw("small normal samples, 98%", a20, b25, conf.level = 0.98),
  mw("small normal samples, 99%, greater", a20, b25, alternative = "greater", conf.level = 0.99),
  mw("small normal samples, less", a20, b25, alternative = "less"),
  mw("ties", tiesX, tiesY),
  mw("ties, greater, 98%", tiesX, tiesY, alternative = "greater", conf.level = 0.98),
  mw("ties, less, 90%", tiesX, tiesY, alternative = "less", conf.level = 0.9),
  mw("identical samples", a20, a20),
  mw("identical samples with ties", tiesX, tiesX, conf.level = 0.98),
  mw("mostly tied", c(1, 1, 1, 1, 2), c(1, 1, 1, 1, 1)),
  mw("x constant", c(5, 5, 5, 5), c(1, 2, 3, 4, 6, 7)),
  mw("y constant, greater", c(1, 2, 3, 4, 6, 7), c(5, 5, 5), alternative = "greater"),
  mw("x of length 1", 5, c(1, 2, 3)),
  mw("x of length 1, far below", 1, 2:60),
  mw("negative numbers", neg1, neg2),
  mw("negative numbers, mu = -1.5", neg1, neg2, mu = -1.5),
  mw("without continuity correction", neg1, neg2, correct = FALSE),
  mw("without continuity correction, greater", neg1, neg2, alternative = "greater", correct = FALSE),
  mw("unequal sizes 30 and 80", small30, big80, conf.level = 0.98),
  mw("integer latencies, 200 each", lat200a, lat200b, conf.level = 0.98),
  mw("latencies 500 each, same distribution", lat500a, lat500b, conf.level = 0.98),
  mw("latencies 500 each, shifted", lat500c, lat500a, conf.level = 0.98),
  mw("latencies 500 each, shifted, greater, 99%", lat500c, lat500a, alternative = "greater", conf.level = 0.99),
  mw("latencies 500 each, shifted, less, 90%", lat500c, lat500a, alternative = "less", conf.level = 0.9),
  mw("large: 5000 and 5000 from the Lehmer generator", lehmer(12345, 5000, 100, 50), lehmer(67890, 5000, 101, 50),
     conf.level = 0.98, xSpec = lehmerSpec(12345, 5000, 100, 50), ySpec = lehmerSpec(67890, 5000, 101, 50))
)

# ---- two proportions
tp <- function(name, e1, n1, e2, n2, alternative = "two.sided", conf.level = 0.95, correct = TRUE) {
  r <- suppressWarnings(prop.test(c(e1, e2), c(n1, n2), alternative = alternative, conf.level = conf.level, correct = correct))
  obj(name = str(name), events = arr(c(e1, e2)), totals = arr(c(n1, n2)),
      alternative = str(alternative), confLevel = num(conf.level), correct = tolower(correct),
      statistic = num(unname(r$statistic)), pValue = num(r$p.value),
      confInt = arr(as.numeric(r$conf.int)), estimate = arr(unname(r$estimate)))
}
tpCases <- c(
  tp("error rates 12% and 5%", 12, 100, 5, 100),
  tp("error rates 12% and 5%, greater, 98%", 12, 100, 5, 100, alternative = "greater", conf.level = 0.98),
  tp("error rates 12% and 5%, less, 90%", 12, 100, 5, 100, alternative = "less", conf.level = 0.9),
  tp("20% against 1%", 40, 200, 2, 200, conf.level = 0.99),
  tp("no events in one version", 0, 150, 6, 150),
  tp("all events in one version", 30, 30, 20, 40),
  tp("equal rates: correction off", 10, 100, 20, 200),
  tp("difference smaller than the correction", 10, 100, 10, 101),
  tp("without continuity correction", 33, 400, 21, 410, correct = FALSE),
  tp("without continuity correction, greater", 33, 400, 21, 410, alternative = "greater", correct = FALSE),
  tp("large counts", 2100, 100000, 1900, 100000, conf.level = 0.98),
  tp("unequal sizes", 3, 57, 45, 1200, alternative = "greater"),
  tp("one request each", 1, 1, 0, 1)
)

# ---- Kolmogorov-Smirnov (asymptotic)
kst <- function(name, x, y, alternative = "two.sided") {
  r <- suppressWarnings(ks.test(x, y, alternative = alternative, exact = FALSE))
  obj(name = str(name), x = arr(x), y = arr(y), alternative = str(alternative),
      statistic = num(unname(r$statistic)), pValue = num(r$p.value))
}
wideA <- round(rnorm(300, 200, 20), 1); wideB <- round(rnorm(300, 200, 40), 1)
ksCases <- c(
  kst("small normal samples", a20, b25),
  kst("small normal samples, greater", a20, b25, alternative = "greater"),
  kst("small normal samples, less", a20, b25, alternative = "less"),
  kst("ties", tiesX, tiesY),
  kst("ties, less", tiesX, tiesY, alternative = "less"),
  kst("identical samples", a20, a20),
  kst("constant and different", c(1, 1, 1), c(2, 2, 2, 2)),
  kst("length 1 each", 1, 2),
  kst("negative numbers, unequal sizes", neg1, neg2),
  kst("same median, twice the spread", wideB, wideA),
  kst("same median, twice the spread, less", wideB, wideA, alternative = "less"),
  kst("latencies 500 each, same distribution", lat500a, lat500b),
  kst("latencies 500 each, shifted, greater", lat500a, lat500c, alternative = "greater")
)

# ---- tail exceedance: candidate values above the baseline's type-7 quantile
tail <- function(name, candidate, baseline, quantile = 0.99, conf.level = 0.95) {
  n <- length(candidate); m <- length(baseline)
  threshold <- unname(quantile(baseline, quantile, type = 7))
  k <- sum(candidate > threshold)
  lo <- floor(1 + (m - 1) * quantile)
  r <- m - lo + 1                         # baseline values at or above the order statistic lo
  p <- phyper(k - 1, n, m, r + k - 1, lower.tail = FALSE)
  ci <- binom.test(k, n, p = 1 - quantile, alternative = "greater", conf.level = conf.level)$conf.int
  obj(name = str(name), candidate = arr(candidate), baseline = arr(baseline),
      quantile = num(quantile), confLevel = num(conf.level), threshold = num(threshold),
      exceedances = num(k), pValue = num(p), confInt = arr(as.numeric(ci)))
}
slowTail <- lat500a; hit <- seq(1, 500, by = 25); slowTail[hit] <- slowTail[hit] + 200
tailCases <- c(
  tail("same distribution, 500 each", lat500b, lat500a),
  tail("same distribution, 500 each, 95th percentile, 98%", lat500b, lat500a, quantile = 0.95, conf.level = 0.98),
  tail("4% of candidate values +200", slowTail, lat500b, conf.level = 0.98),
  tail("4% of candidate values +200, 90th percentile, 90%", slowTail, lat500b, quantile = 0.9, conf.level = 0.9),
  tail("shifted candidate", lat500c, lat500a, conf.level = 0.99),
  tail("small samples", a20, b25, quantile = 0.9),
  tail("ties at the threshold", c(tiesY, tiesY), c(tiesX, tiesX, tiesX), quantile = 0.8),
  tail("constant baseline", c(1, 1, 2, 1, 3, 1, 1, 1, 1, 1), rep(1, 40), quantile = 0.95),
  tail("no exceedance", rep(1, 60), round(runif(60, 1, 5), 2), quantile = 0.99),
  tail("negative numbers", neg2, neg1, quantile = 0.75)
)

# ---- the normal distribution
xs <- c(-37, -30, -20, -10, -8.5, -6, -5, -3, -2.5, -1.5, -1, -0.5, -1e-5, 0, 1e-5, 0.3, 0.6744, 1, 1.4999, 1.5, 2, 2.5, 3, 4, 5.5, 7, 8, 9, 12, 20)
pnormCases <- vapply(xs, function(x) obj(x = num(x), lower = num(pnorm(x)), upper = num(pnorm(x, lower.tail = FALSE))), "")
ps <- c(1e-300, 1e-50, 1e-12, 1e-10, 1e-6, 0.001, 0.005, 0.01, 0.025, 0.05, 0.074, 0.075, 0.076, 0.1, 0.25, 0.5, 0.7, 0.925, 0.95, 0.99, 0.999, 0.9999999)
qnormCases <- vapply(ps, function(p) obj(p = num(p), lower = num(qnorm(p)), upper = num(qnorm(p, lower.tail = FALSE))), "")

# ---- discrete distributions behind the tail test
hyper <- function(atLeast, marked, unmarked, draws) obj(atLeast = num(atLeast), marked = num(marked), unmarked = num(unmarked),
  draws = num(draws), upperTail = num(phyper(atLeast - 1, marked, unmarked, draws, lower.tail = FALSE)))
binom <- function(atLeast, trials, probability, conf.level) obj(atLeast = num(atLeast), trials = num(trials),
  probability = num(probability), upperTail = num(pbinom(atLeast - 1, trials, probability, lower.tail = FALSE)),
  confLevel = num(conf.level),
  lowerBound = num(binom.test(atLeast, trials, alternative = "greater", conf.level = conf.level)$conf.int[1]))
hyperCases <- c(hyper(3, 10, 20, 8), hyper(0, 10, 20, 8), hyper(9, 10, 20, 8), hyper(12, 500, 500, 17),
  hyper(40, 5000, 5000, 45), hyper(1, 1, 1, 1), hyper(30, 60, 2000, 35))
binomCases <- c(binom(3, 10, 0.2, 0.95), binom(1, 1, 0.5, 0.9), binom(15, 500, 0.01, 0.98), binom(60, 5000, 0.01, 0.99),
  binom(5000, 5000, 0.999, 0.95), binom(2, 2000, 0.3, 0.95), binom(0, 50, 0.01, 0.95))

section <- function(name, cases) sprintf('"%s": [\n    %s\n  ]', name, paste(cases, collapse = ",\n    "))
cat("{\n  ")
cat(paste(c(
  sprintf('"generator": %s', str("src/analysis/stats/vectors/generate.R")),
  sprintf('"rVersion": %s', str(R.version.string)),
  section("mannWhitney", mwCases),
  section("twoProportion", tpCases),
  section("ks", ksCases),
  section("tail", tailCases),
  section("pnorm", pnormCases),
  section("qnorm", qnormCases),
  section("hypergeometric", hyperCases),
  section("binomial", binomCases)
), collapse = ",\n  "))
cat("\n}\n")
