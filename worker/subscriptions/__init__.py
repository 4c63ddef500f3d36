"""The feed list as an operator edits it: new feeds appended to the config file
(``configfile``) and OPML import and export (``opml``)."""
