DROP TRIGGER users_never_deleted;
