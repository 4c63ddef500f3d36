"""Finding copies: ``fingerprint`` (shingles -> MinHash), ``lsh`` (band keys for candidate
lookup), ``decision`` (verify candidates: Jaccard or containment; the story a copy joins;
story merges), ``canonical`` (which article of a story is *the* article). All pure; the
store keeps signatures and band keys."""
