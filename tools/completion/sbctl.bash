# bash completion for sbctl, generated from the server's method table by
# `sbctl --completion bash` (a test fails when this file and the table differ).
_sbctl_words() { # cword prev line...: sets words_
  local cword=$1 prev=$2; shift 2
  local -a line=("$@")
  local noun= verb= w i skip=0
  for ((i = 1; i < cword; i++)); do
    w=${line[i]}
    if ((skip)); then skip=0; continue; fi
    case $w in
      --socket|--data-dir|--token-file|--cluster|--member|-o|--output) skip=1 ;;
      -*) ;;
      *) if [ -z "$noun" ]; then noun=$w; elif [ -z "$verb" ]; then verb=$w; fi ;;
    esac
  done
  case $prev in
    -o|--output) words_='table wide json csv name'; return ;;
    --socket|--data-dir|--token-file) words_=FILE; return ;;
    --cluster|--member|--shard) words_=; return ;;
  esac
  if [ -z "$noun" ]; then
    words_=' token org callcenter user member rules licence layout softphone contact call voicecall plugin server audit changes cluster move backup doctor verify --socket --data-dir --token-file --cluster --member -o --json --local --help --version'
    return
  fi
  local verbs=
  case $noun in
    token) verbs=' authenticate create list revoke' ;;
    org) verbs=' doctor create get list delete move' ;;
    callcenter) verbs=' create get list update clone import export settings template delete' ;;
    user) verbs=' upsert upsert-bulk get list find import' ;;
    member) verbs=' add move remove add-bulk list lookup import' ;;
    rules) verbs=' put get plan apply' ;;
    licence) verbs=' assign' ;;
    layout) verbs=' put get list assign delete' ;;
    softphone) verbs=' check check-batch' ;;
    contact) verbs=' upsert-bulk get list import' ;;
    call) verbs=' start accept hold resume transcript end event test' ;;
    voicecall) verbs=' get list' ;;
    plugin) verbs=' list reload' ;;
    server) verbs=' info health backup backup-read verify' ;;
    audit) verbs=' list' ;;
    changes) verbs=' watch' ;;
    cluster) verbs=' show promote' ;;
    move) verbs=' export changes import freeze commit done abort digest' ;;
  esac
  if [ -z "$verb" ] && [ -n "$verbs" ]; then words_="$verbs --help"; return; fi
  local flags='--help'
  case $noun.$verb in
    token.authenticate) flags='--token --min-seq --help' ;;
    token.create) flags='--org --role --label --help' ;;
    token.list) flags='--min-seq --help' ;;
    token.revoke) flags='--id --help' ;;
    org.doctor) flags='--org --min-seq --help' ;;
    org.create) flags='--org --name --shard --help' ;;
    org.get) flags='--org --min-seq --help' ;;
    org.list) flags='--after --limit --min-seq --help' ;;
    org.delete) flags='--org --force --help' ;;
    callcenter.create) flags='--org --internal-name --display-name --adapter --adapter-url --vendor-info-api-name --use-api --softphone-height --softphone-width --compatibility-mode --standby-url --timeout --outside-prefix --long-distance-prefix --international-prefix --help' ;;
    callcenter.get) flags='--org --id --internal-name --reveal --min-seq --help' ;;
    callcenter.list) flags='--org --after --limit --min-seq --help' ;;
    callcenter.update) flags='--org --id --values --adapter --help' ;;
    callcenter.clone) flags='--org --id --internal-name --display-name --help' ;;
    callcenter.import) flags='--org --file --filename --internal-name --adapter --dry-run --help' ;;
    callcenter.export) flags='--org --id --form --reveal --min-seq --help' ;;
    callcenter.settings) flags='--org --id --reveal --min-seq --help' ;;
    callcenter.template) flags='--adapter --form --min-seq --help' ;;
    callcenter.delete) flags='--org --id --force --help' ;;
    user.upsert) flags='--org --id --name --profile --department --division --role --help' ;;
    user.upsert-bulk) flags='--org --users --dry-run --help' ;;
    user.get) flags='--org --id --min-seq --help' ;;
    user.list) flags='--org --after --limit --min-seq --help' ;;
    user.find) flags='--org --name --profile --after --limit --min-seq --help' ;;
    member.add) flags='--org --callcenter --user --move --help' ;;
    member.move) flags='--org --callcenter --user --help' ;;
    member.remove) flags='--org --callcenter --user --help' ;;
    member.add-bulk) flags='--org --rows --move --dry-run --help' ;;
    member.list) flags='--org --callcenter --name --profile --after --limit --min-seq --help' ;;
    member.lookup) flags='--org --user --min-seq --help' ;;
    rules.put) flags='--org --rules --follow-on-write --help' ;;
    rules.get) flags='--org --min-seq --help' ;;
    rules.plan) flags='--org --after --limit --min-seq --help' ;;
    rules.apply) flags='--org --fingerprint --help' ;;
    licence.assign) flags='--org --users --revoke --dry-run --help' ;;
    layout.put) flags='--org --layout --default --help' ;;
    layout.get) flags='--org --name --format --min-seq --help' ;;
    layout.list) flags='--org --min-seq --help' ;;
    layout.assign) flags='--org --profile --layout --unassign --help' ;;
    layout.delete) flags='--org --name --force --help' ;;
    softphone.check) flags='--org --user --min-seq --help' ;;
    softphone.check-batch) flags='--org --users --compact --min-seq --help' ;;
    contact.upsert-bulk) flags='--org --callcenter --contacts --country-code --dry-run --first-line --help' ;;
    contact.get) flags='--org --id --min-seq --help' ;;
    contact.list) flags='--org --after --limit --min-seq --help' ;;
    call.start) flags='--org --callcenter --vendor-call-key --at --call-type --from --to --user --help' ;;
    call.accept) flags='--org --callcenter --vendor-call-key --at --user --help' ;;
    call.hold) flags='--org --callcenter --vendor-call-key --at --help' ;;
    call.resume) flags='--org --callcenter --vendor-call-key --at --help' ;;
    call.transcript) flags='--org --callcenter --vendor-call-key --at --text --speaker --segment-id --help' ;;
    call.end) flags='--org --callcenter --vendor-call-key --at --disposition --help' ;;
    call.event) flags='--org --callcenter --event --user --help' ;;
    call.test) flags='--org --user --from --help' ;;
    voicecall.get) flags='--org --id --min-seq --help' ;;
    voicecall.list) flags='--org --user --callcenter --since --until --after --limit --min-seq --help' ;;
    plugin.list) flags='--min-seq --help' ;;
    plugin.reload) flags='--help' ;;
    server.info) flags='--min-seq --help' ;;
    server.health) flags='--min-seq --help' ;;
    server.backup) flags='--min-seq --help' ;;
    server.backup-read) flags='--backup --offset --min-seq --help' ;;
    server.verify) flags='--max-problems --min-seq --help' ;;
    audit.list) flags='--org --since --until --method --user --callcenter --oldest-first --cursor --limit --min-seq --help' ;;
    changes.watch) flags='--org --from --min-seq --help' ;;
    cluster.show) flags='--min-seq --help' ;;
    cluster.promote) flags='--shard --member --min-seq --help' ;;
    move.export) flags='--org --cursor --min-seq --help' ;;
    move.changes) flags='--org --seq --min-seq --help' ;;
    move.import) flags='--org --records --help' ;;
    move.freeze) flags='--org --help' ;;
    move.commit) flags='--org --org-seq --help' ;;
    move.done) flags='--org --to --help' ;;
    move.abort) flags='--org --help' ;;
    move.digest) flags='--org --min-seq --help' ;;
    user.import) flags='--org --columns --data-loader --from-line --chunk --help' ;;
    member.import) flags='--org --columns --move --from-line --chunk --help' ;;
    contact.import) flags='--org --callcenter --country-code --columns --from-line --chunk --help' ;;
  esac
  words_="$flags -o --json --local"
}
_sbctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} words_=
  _sbctl_words "$COMP_CWORD" "${COMP_WORDS[COMP_CWORD-1]}" "${COMP_WORDS[@]}"
  if [ "$words_" = FILE ]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi
  COMPREPLY=($(compgen -W "$words_" -- "$cur"))
}
complete -o default -F _sbctl sbctl
