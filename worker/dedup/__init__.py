"""Finding copies: ``fingerprint`` (shingles -> MinHash), ``lsh`` (band keys for candidate
lookup), ``bandindex`` (band keys -> articles in memory), ``decision`` (verify candidates:
Jaccard or containment; the story a copy joins; story merges), ``canonical`` (which article
of a story is *the* article), and ``engine``: the one place these are put together to
decide where each entry of a batch goes, over the reads and writes of ``protocol`` (the
store implements them in SQL: ``worker.store.articles.ArticleStore``)."""
