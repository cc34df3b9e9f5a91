/** How a completion script calls back into the CLI: `stackseam` on PATH, else this very binary. */
function invocation(self: { node: string; script: string }): { posix: string; fish: string } {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const fq = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  return {
    posix: `if command -v stackseam >/dev/null 2>&1; then command stackseam "$@"; else ${q(self.node)} ${q(self.script)} "$@"; fi`,
    fish: `if command -q stackseam; command stackseam $argv; else; ${fq(self.node)} ${fq(self.script)} $argv; end`,
  };
}

/** The bash completion script; `source <(stackseam completion bash)`. */
export function bashScript(self: { node: string; script: string }): string {
  return `# stackseam completion for bash. Load it with:  source <(stackseam completion bash)
_stackseam_cli() { ${invocation(self).posix}; }
_stackseam_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" IFS=$'\\n'
  local -a out
  out=($(_stackseam_cli __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  case "\${out[0]}" in
    :files) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
    :dirs) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "\${out[*]}" -- "$cur"))
}
complete -F _stackseam_complete stackseam
`;
}

/** The zsh completion script; `source <(stackseam completion zsh)` after `compinit`. */
export function zshScript(self: { node: string; script: string }): string {
  return `#compdef stackseam
# stackseam completion for zsh. Load it with:  source <(stackseam completion zsh)   (after compinit)
_stackseam_cli() { ${invocation(self).posix}; }
_stackseam() {
  local -a out
  out=("\${(@f)$(_stackseam_cli __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  case "\${out[1]}" in
    :files) _files; return ;;
    :dirs) _files -/; return ;;
  esac
  (( \${#out} )) && [[ -n "\${out[1]}" ]] && compadd -a out
}
compdef _stackseam stackseam
`;
}

/** The fish completion script; `stackseam completion fish | source`. */
export function fishScript(self: { node: string; script: string }): string {
  return `# stackseam completion for fish. Load it with:  stackseam completion fish | source
function __stackseam_cli
    ${invocation(self).fish}
end
function __stackseam_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l cur (commandline -ct)
    set -l out (__stackseam_cli __complete $words "$cur" 2>/dev/null)
    switch "$out[1]"
        case :files
            __fish_complete_path "$cur"
        case :dirs
            __fish_complete_directories "$cur"
        case '*'
            printf '%s\\n' $out
    end
end
complete -c stackseam -f -a '(__stackseam_complete)'
`;
}
