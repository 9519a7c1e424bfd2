/**
 * ssh_config files for the `ssh -G` comparison (test/interop/ssh-config.test.ts): real-world shapes (bastions,
 * wildcards, per-host keys, Include of conf.d, Match, tokens) and the parser's corners. `{dir}` in a text is
 * replaced by the case's temporary directory; `files` are written beside the main file.
 */
export interface ConfigCase {
  readonly name: string
  readonly text: string
  readonly hosts: ReadonlyArray<string>
  /** ssh options placed before the destination (-l, -p, -o, -i, -J …). */
  readonly args?: ReadonlyArray<string>
  readonly files?: Readonly<Record<string, string>>
  /** Compare the algorithm lists too (the config sets them as plain lists). */
  readonly algorithms?: boolean
}

const LOCAL_USER = process.env.USER ?? "root"

export const CORPUS: ReadonlyArray<ConfigCase> = [
  { name: "empty file", text: "", hosts: ["example.com"] },
  { name: "one host block", text: "Host web\n  HostName web.example.com\n  User deploy\n  Port 2222\n", hosts: ["web", "other"] },
  {
    name: "first value wins across blocks",
    text: "Host web\n  User first\nHost *\n  User second\n  Port 2200\nHost web\n  Port 9\n",
    hosts: ["web", "x"]
  },
  { name: "keyword case and = separators", text: "HOST web\nhostname=web.example.com\n  PORT = 2022\nuSeR\t=\tbob\n", hosts: ["web"] },
  { name: "comments and blank lines", text: "# comment\n\n  # indented comment\nHost a # trailing\n  User u # trailing too\n", hosts: ["a"] },
  { name: "quoted values", text: "Host q\n  IdentityFile \"/tmp/with space/key\"\n  User \"quoted\"\n", hosts: ["q"] },
  { name: "wildcards * and ?", text: "Host *.example.com\n  User star\nHost db?\n  User q\n", hosts: ["a.example.com", "db1", "db12", "example.com"] },
  {
    name: "negation excludes a host",
    text: "Host *.corp !gw.corp\n  ProxyJump gw.corp\nHost gw.corp\n  HostName 192.0.2.1\n",
    hosts: ["a.corp", "gw.corp"]
  },
  { name: "negation alone never matches", text: "Host !foo\n  User neg\n", hosts: ["foo", "bar"] },
  { name: "several patterns on one Host line", text: "Host alpha beta gamma\n  Port 1234\n", hosts: ["beta", "delta"] },
  { name: "Host is case-sensitive", text: "Host Web\n  User upper\n", hosts: ["Web", "web"] },
  { name: "HostName with %h", text: "Host *\n  HostName %h.internal.example.com\n", hosts: ["app", "DB"] },
  { name: "HostName lower-cased", text: "Host x\n  HostName MiXeD.Example.COM\n", hosts: ["x"] },
  {
    name: "bastion and ProxyJump chain",
    text: "Host bastion\n  HostName bastion.example.com\n  User jump\nHost app*\n  ProxyJump admin@bastion:2222,ops@10.1.2.3:22\n",
    hosts: ["app1", "bastion"]
  },
  { name: "ProxyJump none", text: "Host a\n  ProxyJump none\nHost *\n  ProxyJump gw\n", hosts: ["a", "b"] },
  { name: "ProxyJump with an IPv6 hop", text: "Host *\n  ProxyJump [2001:db8::1]:2200\n", hosts: ["h"] },
  { name: "ProxyCommand kept as written", text: "Host *\n  ProxyCommand nc -X 5 -x proxy:1080 %h %p\n", hosts: ["h"] },
  { name: "ProxyJump before ProxyCommand wins", text: "Host *\n  ProxyJump gw\n  ProxyCommand nc %h %p\n", hosts: ["h"] },
  { name: "ProxyCommand before ProxyJump wins", text: "Host *\n  ProxyCommand nc %h %p\n  ProxyJump gw\n", hosts: ["h"] },
  { name: "ProxyCommand none", text: "Host *\n  ProxyCommand none\n", hosts: ["h"] },
  {
    name: "per-host keys",
    text: "Host github.com\n  IdentityFile ~/.ssh/github_ed25519\n  IdentitiesOnly yes\nHost *\n  IdentityFile ~/.ssh/id_work\n  IdentityFile ~/.ssh/id_ed25519\n",
    hosts: ["github.com", "gitlab.com"]
  },
  { name: "identity files with tokens stay as written", text: "Host *\n  IdentityFile ~/.ssh/%r@%h\n  CertificateFile ~/.ssh/%h-cert.pub\n", hosts: ["h"] },
  { name: "-i before the config's files", text: "Host *\n  IdentityFile ~/.ssh/from_config\n", hosts: ["h"], args: ["-i", "{dir}/config", "-i", "/nonexistent/key"] },
  { name: "-l and -p beat the config", text: "Host *\n  User cfg\n  Port 2222\n", hosts: ["h"], args: ["-l", "cli", "-p", "2022"] },
  { name: "repeated -p and -l: the first wins", text: "", hosts: ["h"], args: ["-p", "1111", "-p", "2222", "-l", "one", "-l", "two"] },
  { name: "-o beats the config, first -o wins", text: "Host *\n  User cfg\n", hosts: ["h"], args: ["-o", "User=opt", "-o", "User=later", "-oPort=2200"] },
  { name: "user@host beats User", text: "Host h\n  User cfg\n", hosts: ["me@h"] },
  { name: "ssh:// URL destination", text: "Host h\n  Port 1\n", hosts: ["ssh://url@h:2022"] },
  {
    name: "Include of conf.d with a glob",
    text: "Include {dir}/conf.d/*.conf\nHost *\n  User fallback\n",
    files: {
      "conf.d/10-web.conf": "Host web\n  HostName web.example.com\n  User www\n",
      "conf.d/20-db.conf": "Host db\n  HostName db.example.com\n  Port 5432\n",
      "conf.d/ignored.txt": "Host web\n  User never\n"
    },
    hosts: ["web", "db", "other"]
  },
  {
    name: "Include inside a Host block applies only there",
    text: "Host special\n  Include {dir}/inc.conf\nHost *\n  Port 2200\n",
    files: { "inc.conf": "User from-include\nPort 4000\n" },
    hosts: ["special", "plain"]
  },
  {
    name: "a Match in an included file does not leak out",
    text: "Host *\n  Include {dir}/inc.conf\n  User after\n",
    files: { "inc.conf": "Match host nomatch\n  Port 1\n" },
    hosts: ["h"]
  },
  { name: "Include of nothing", text: "Include {dir}/missing/*.conf\nHost *\n  User u\n", hosts: ["h"] },
  {
    name: "nested Include",
    text: "Include {dir}/a.conf\n",
    files: { "a.conf": "Include {dir}/b.conf\nHost *\n  Port 2001\n", "b.conf": "Host h\n  User nested\n" },
    hosts: ["h", "i"]
  },
  { name: "Match all", text: "Match all\n  User everyone\n", hosts: ["h"] },
  { name: "Match host uses HostName", text: "Host alias\n  HostName real.example.com\nMatch host real.example.com\n  User matched\n", hosts: ["alias", "real.example.com"] },
  { name: "Match originalhost", text: "Host alias\n  HostName real.example.com\nMatch originalhost alias\n  Port 2022\n", hosts: ["alias"] },
  { name: "Match user", text: "Match user admin\n  Port 2222\n", hosts: ["admin@h", "h"] },
  { name: "Match localuser", text: `Match localuser ${LOCAL_USER}\n  User me-local\nMatch localuser nobody-else\n  Port 1\n`, hosts: ["h"] },
  { name: "Match negated criteria", text: "Match !host *.example.com\n  User outside\n", hosts: ["a.example.com", "b.org"] },
  { name: "Match several criteria", text: "Match host *.corp user ops\n  Port 2200\n", hosts: ["ops@x.corp", "dev@x.corp"] },
  { name: "Match final and canonical", text: "Host *\n  HostName %h.example.com\nMatch final host *.example.com\n  User final-pass\nMatch canonical\n  Port 2022\n", hosts: ["h"] },
  { name: "Match exec with tokens", text: "Match exec \"test %h = yes.example\"\n  User exec-yes\n", hosts: ["yes.example", "no.example"] },
  {
    name: "known hosts files with tokens",
    text: "Host *\n  UserKnownHostsFile ~/.ssh/kh_%h_%p %d/other %%literal\n  GlobalKnownHostsFile /etc/ssh/a /etc/ssh/b\n",
    hosts: ["h"]
  },
  { name: "known hosts none", text: "Host *\n  UserKnownHostsFile none\n  GlobalKnownHostsFile none\n", hosts: ["h"] },
  { name: "%C %n %r %u %l %L %i in IdentityAgent", text: "Host *\n  IdentityAgent /tmp/agent-%C-%n-%r-%u-%l-%L-%i\n", hosts: ["bob@h"] },
  { name: "IdentityAgent none", text: "Host *\n  IdentityAgent none\n", hosts: ["h"] },
  {
    name: "flags and multi-state values",
    text: "Host *\n  StrictHostKeyChecking accept-new\n  BatchMode yes\n  Compression yes\n  CheckHostIP yes\n  HashKnownHosts yes\n" +
      "  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n  RequestTTY force\n  ExitOnForwardFailure yes\n",
    hosts: ["h"]
  },
  { name: "StrictHostKeyChecking spellings", text: "Host a\n  StrictHostKeyChecking off\nHost b\n  StrictHostKeyChecking yes\nHost c\n  StrictHostKeyChecking ask\n", hosts: ["a", "b", "c"] },
  { name: "RequestTTY spellings", text: "Host a\n  RequestTTY yes\nHost b\n  RequestTTY no\n", hosts: ["a", "b", "c"] },
  { name: "ChallengeResponseAuthentication alias", text: "Host *\n  ChallengeResponseAuthentication no\n", hosts: ["h"] },
  {
    name: "times",
    text: "Host a\n  ConnectTimeout 10\n  ServerAliveInterval 1m30s\n  ServerAliveCountMax 5\nHost b\n  ConnectTimeout none\n",
    hosts: ["a", "b"]
  },
  { name: "RekeyLimit", text: "Host a\n  RekeyLimit 1G 1h\nHost b\n  RekeyLimit 500M\nHost c\n  RekeyLimit default none\n", hosts: ["a", "b", "c"] },
  { name: "SendEnv and SetEnv", text: "Host *\n  SendEnv LANG LC_*\n  SendEnv -LC_ALL\n  SetEnv FOO=bar BAZ=\"q u x\"\n  SetEnv FOO=later\n", hosts: ["h"] },
  { name: "forwards", text: "Host *\n  LocalForward 8080 localhost:80\n  LocalForward 127.0.0.1:8443 [::1]:443\n  RemoteForward 9000 localhost:9000\n  DynamicForward 1080\n  RemoteForward 9001\n", hosts: ["h"] },
  { name: "forwards with Unix sockets", text: "Host *\n  LocalForward /tmp/local.sock /run/remote.sock\n  RemoteForward /tmp/r.sock localhost:22\n", hosts: ["h"] },
  { name: "ForwardAgent and LogLevel", text: "Host a\n  ForwardAgent yes\n  LogLevel DEBUG2\nHost b\n  ForwardAgent /tmp/agent.sock\n  LogLevel quiet\n", hosts: ["a", "b", "c"] },
  { name: "PreferredAuthentications and HostKeyAlias", text: "Host *\n  PreferredAuthentications publickey,password\n  HostKeyAlias MyAlias\n", hosts: ["h"] },
  { name: "RemoteCommand with tokens", text: "Host *\n  RemoteCommand echo %h %p %r %n\n", hosts: ["h"] },
  {
    name: "explicit algorithm lists",
    text: "Host *\n  KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256\n  Ciphers aes256-gcm@openssh.com,aes128-ctr\n  MACs hmac-sha2-512-etm@openssh.com\n" +
      "  HostKeyAlgorithms ssh-ed25519,rsa-sha2-512\n  PubkeyAcceptedAlgorithms ssh-ed25519\n",
    hosts: ["h"],
    algorithms: true
  },
  { name: "IgnoreUnknown", text: "IgnoreUnknown UseKeychain,AddToKeyChain\nHost *\n  UseKeychain yes\n  User ok\n", hosts: ["h"] },
  { name: "keywords parsed but not implemented", text: "Host *\n  ForwardX11 yes\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%C\n  ControlPersist 10m\n  TCPKeepAlive no\n  AddKeysToAgent yes\n  User k\n", hosts: ["h"] },
  { name: "deprecated keywords are ignored", text: "Host *\n  Protocol 2\n  UseRoaming no\n  User d\n", hosts: ["h"] },
  {
    name: "a realistic ~/.ssh/config",
    text: [
      "Host github.com gitlab.com",
      "  User git",
      "  IdentityFile ~/.ssh/git_ed25519",
      "  IdentitiesOnly yes",
      "",
      "Host prod-*",
      "  User deploy",
      "  ProxyJump bastion.prod",
      "  StrictHostKeyChecking yes",
      "",
      "Host bastion.prod",
      "  HostName 203.0.113.10",
      "  Port 2222",
      "  User ops",
      "",
      "Match host 203.0.113.*",
      "  ServerAliveInterval 15",
      "",
      "Host *",
      "  AddKeysToAgent yes",
      "  ServerAliveInterval 60",
      "  ServerAliveCountMax 2",
      "  Compression no",
      "  SendEnv LANG"
    ].join("\n"),
    hosts: ["github.com", "prod-web1", "bastion.prod", "laptop"]
  },
  // SEC-71: UpdateHostKeys as ssh 9.2 resolves it (ssh -G prints true/false/ask).
  {
    name: "UpdateHostKeys yes, no, ask, true, false",
    text: "Host a\n  UpdateHostKeys ask\nHost b\n  UpdateHostKeys no\nHost c\n  UpdateHostKeys yes\n  UserKnownHostsFile /tmp/kh\n" +
      "Host d\n  UpdateHostKeys false\nHost e\n  UpdateHostKeys true\n  VerifyHostKeyDNS yes\n",
    hosts: ["a", "b", "c", "d", "e", "f"]
  },
  {
    name: "UpdateHostKeys default: off with VerifyHostKeyDNS or another first UserKnownHostsFile",
    text: "Host a\n  UserKnownHostsFile ~/.ssh/known_hosts2\nHost b\n  VerifyHostKeyDNS ask\n" +
      "Host c\n  UserKnownHostsFile ~/.ssh/known_hosts /tmp/x\nHost d\n  UserKnownHostsFile /tmp/x ~/.ssh/known_hosts\n" +
      "Host e\n  UserKnownHostsFile none\nHost f\n  VerifyHostKeyDNS no\n",
    hosts: ["a", "b", "c", "d", "e", "f", "g"]
  },
  {
    name: "UpdateHostKeys ask turned off where ssh could not ask",
    text: "Host a\n  RemoteCommand ls\nHost b\n  RequestTTY no\nHost c\n  LogLevel ERROR\n" +
      "Host d\n  ControlPersist yes\n  ControlPath /tmp/cp-%C\nHost e\n  ControlPersist 10m\nHost *\n  UpdateHostKeys ask\n",
    hosts: ["a", "b", "c", "d", "e", "f"]
  },
  { name: "UpdateHostKeys ask with -o", text: "", args: ["-o", "UpdateHostKeys=ask", "-o", "LogLevel=VERBOSE"], hosts: ["a"] },
  // -A/-a: the last flag wins, and over -o and the config file (ssh -G prints forwardagent).
  { name: "-A -a", text: "", args: ["-A", "-a"], hosts: ["h"] },
  { name: "-a -A", text: "", args: ["-a", "-A"], hosts: ["h"] },
  { name: "-o ForwardAgent=no then -A", text: "", args: ["-o", "ForwardAgent=no", "-A"], hosts: ["h"] },
  { name: "-a then -o ForwardAgent=yes", text: "Host *\n  ForwardAgent yes\n", args: ["-a", "-o", "ForwardAgent=yes"], hosts: ["h"] }
]
