"""Reading feeds: fetch bytes (``fetcher``), parse entries (``parser``), canonical URLs
(``urlcleaner``) and HTML sanitising (``sanitizer``)."""
