-- 90_classification.sql: the last step of the install script.
--
-- Every column of every table the earlier parts created gets its class in
-- onshikaku.column_class (30_model.sql classified the model's tables before
-- granting on them); check_analyst_surface() and the grants rely on it.
SELECT onshikaku.classify_columns();
