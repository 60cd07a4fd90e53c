# bash completion for jitctl: verbs, then credential or token names from
# the running agent (jitctl complete), then options of the verb.
_jitctl()
{
	local cur prev verb i words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s|--socket|--data-dir) ((i++)) ;;
		-*) ;;
		*) verb=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [[ -z $verb ]]; then
		words=$(jitctl complete verbs 2>/dev/null)
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return
	fi
	case $prev in
	-t|--token|--label)
		words=$(jitctl complete tokens 2>/dev/null)
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return ;;
	-f|--for|--ttl|-p|--pin-fd) return ;;
	esac
	case $cur in
	-*)	words=$(jitctl "$verb" --help 2>/dev/null |
		    grep -oE -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return ;;
	esac
	case $verb in
	unlock|get|exec|lock|revoke|shell|status)
		words=$(jitctl complete names 2>/dev/null)
		COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
	unenroll)
		words=$(jitctl complete tokens 2>/dev/null)
		COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
	enroll)
		COMPREPLY=($(compgen -W "tpm2 fido2" -- "$cur")) ;;
	esac
}
complete -F _jitctl jitctl
