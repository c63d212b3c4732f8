-- Leave 30 % of each new page of users free, so that an update (user.updated is Clerk's most frequent event)
-- can put the row's new version beside the old one: a HOT update, which writes no index entries. With full
-- pages, about one update in four was HOT under the benchmark's load; with this, nearly all of them.
-- Pages written before this migration stay as they are until the table is rewritten.
ALTER TABLE "users" SET (fillfactor = 70);
