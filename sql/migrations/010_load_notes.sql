-- What a parser had to assume while loading a window though it refused no record (legs whose
-- time stamps carried no offset, a body decoded as ISO-8859-1): note name -> count, per window.
-- pipelines.model.ParseNote; the run log warns once per window that has any.
ALTER TABLE cdr.load_audit ADD COLUMN notes jsonb NOT NULL DEFAULT '{}'::jsonb;
