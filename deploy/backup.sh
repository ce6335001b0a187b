#!/bin/sh
# Nightly backup of Chợ HTX (docs/deploy.md): the database, the uploads and the keys, into BACKUP_DIR
# (default /var/backups/chohtx), kept BACKUP_DAYS days (default 14). Run by chohtx-backup.service,
# whose EnvironmentFile gives DATABASE_URL and UPLOAD_DIR. The search index is not backed up: it is
# rebuilt from the database (`flask search rebuild`). Copy the result off the machine.
set -eu
DEST=${BACKUP_DIR:-/var/backups/chohtx}
DAY=$(date +%F)
INSTANCE=${INSTANCE_DIR:-/srv/chohtx/instance}
umask 077
mkdir -p "$DEST"
# pg_dump takes postgresql:// (the application also accepts postgresql+psycopg://)
URL=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#')
pg_dump --format=custom --no-owner --no-privileges --file="$DEST/chohtx-$DAY.dump" "$URL"
tar -C "$UPLOAD_DIR" -czf "$DEST/uploads-$DAY.tar.gz" .
KEYS=""
for path in /etc/chohtx "$INSTANCE"; do
  if [ -e "$path" ]; then KEYS="$KEYS ${path#/}"; fi
done
# shellcheck disable=SC2086  # the paths hold no spaces
tar -C / -czf "$DEST/keys-$DAY.tar.gz" --exclude="${INSTANCE#/}/uploads" $KEYS
find "$DEST" -maxdepth 1 -type f -mtime +"${BACKUP_DAYS:-14}" -delete
