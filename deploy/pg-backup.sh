#!/usr/bin/env bash
# PostgreSQL backup and restore for 银龄志愿助手 (deploy/README.md, "Backups").
#
#   pg-backup.sh backup                 dump the database (custom format), keep the newest $YINLING_BACKUP_KEEP
#   pg-backup.sh restore FILE NEWDB     restore a dump into a new database NEWDB (refuses an existing one)
#   pg-backup.sh list                   the backups kept, newest first
#
# Settings (environment; /etc/yinling/yinling.env when run by yinling-backup.service):
#   YINLING_BACKUP_DB     database to dump (default: yinling); connection from the usual PGHOST, PGPORT, PGUSER
#                         (default: the local socket, as the user running this, e.g. yinling by peer auth)
#   YINLING_BACKUP_DIR    where dumps go (default: /var/backups/yinling)
#   YINLING_BACKUP_KEEP   how many dumps to keep (default: 14)
#
# A dump holds every volunteer's name and encrypted phone: keep it as private as the database (mode 0600), and
# keep YINLING_SECRET_KEY somewhere else: without the key the phones in a dump cannot be read, by a thief or by you.
set -euo pipefail
umask 077

db="${YINLING_BACKUP_DB:-yinling}"
dir="${YINLING_BACKUP_DIR:-/var/backups/yinling}"
keep="${YINLING_BACKUP_KEEP:-14}"

die() { echo "pg-backup: $*" >&2; exit 1; }

backup() {
  [[ "$keep" =~ ^[1-9][0-9]*$ ]] || die "YINLING_BACKUP_KEEP must be a whole number of at least 1"
  mkdir -p "$dir"
  local stamp name n=1
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  name="$dir/$db-$stamp.dump"
  while [[ -e "$name" ]]; do n=$((n + 1)); name="$dir/$db-$stamp-$n.dump"; done
  # Written under a temporary name and checked before it counts: a failed dump never replaces a good one.
  pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$name.partial" "$db"
  pg_restore --list "$name.partial" >/dev/null || die "the dump $name.partial does not read back"
  mv "$name.partial" "$name"
  echo "pg-backup: wrote $name ($(du -h "$name" | cut -f1))"
  # Retention by count, newest kept: if backups stop, the last good ones are never aged away.
  ls -1t "$dir"/"$db"-*.dump 2>/dev/null | tail -n +"$((keep + 1))" | while read -r old; do
    rm -f -- "$old" && echo "pg-backup: removed $old"
  done
}

restore() {
  local file="${1:-}" target="${2:-}"
  [[ -n "$file" && -n "$target" ]] || die "usage: pg-backup.sh restore FILE NEWDB"
  [[ -r "$file" ]] || die "cannot read $file"
  [[ "$target" =~ ^[A-Za-z0-9_-]+$ ]] || die "NEWDB may hold only letters, digits, _ and -"
  if [[ -n "$(psql -d postgres -XAtc "SELECT 1 FROM pg_database WHERE datname = '$target'")" ]]; then
    die "database $target exists already; restore into a new one, then point YINLING_DATABASE_URL at it"
  fi
  pg_restore --list "$file" >/dev/null || die "$file is not a pg_dump custom-format file"
  createdb --template=template0 --encoding=UTF8 "$target"
  if ! pg_restore --exit-on-error --no-owner --no-privileges --single-transaction --dbname="$target" "$file"; then
    dropdb "$target" || true
    die "restore failed; $target was removed again"
  fi
  echo "pg-backup: restored $file into $target"
  echo "pg-backup: next: point YINLING_DATABASE_URL at $target, run 'python -m bot db upgrade' and 'python -m bot doctor', restart the services"
}

case "${1:-}" in
  backup) backup ;;
  restore) shift; restore "$@" ;;
  list) ls -1t "$dir"/"$db"-*.dump 2>/dev/null || true ;;
  *) die "usage: pg-backup.sh backup | restore FILE NEWDB | list" ;;
esac
