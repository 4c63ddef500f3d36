"""The event level above the stories: which stories (copy clusters) are different
outlets' reports of one real-world event. Pure: ``represent`` turns a story into weighted
terms, ``assign`` places stories into events online. The pipeline runs it after a batch's
stories are decided (``worker.pipeline.events``); ``docs/events.md`` describes it."""
