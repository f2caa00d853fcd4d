/**
 * Go text/template conformance. Every row's expected output was produced by Go's own
 * text/template (go1.19, Option("missingkey=zero") as Ollama sets it) from the same template and
 * data, then pasted here; a row that fails means Corral renders differently from Ollama.
 */
import { goJson } from './format';
import { Template } from './template';
import { TemplateSyntaxError } from './parser';
import { TemplateExecError } from './exec';

const render = (tmpl: string, data: unknown): string =>
  Template.parse(tmpl, { funcs: { json: (v) => goJson(v) } }).execute(data);

// [name, template, data, output of Go's text/template]
const GO_CASES: [string, string, unknown, string][] = [
  ['text', 'hello', {}, 'hello'],
  ['field', '{{ .Name }}!', { Name: 'Ann' }, 'Ann!'],
  ['chained', '{{ .A.B.C }}', { A: { B: { C: 'deep' } } }, 'deep'],
  ['trim-both', 'a  \n {{- .X -}} \n  b', { X: 1 }, 'a1b'],
  ['trim-left-only', 'a \n{{- "x" }} \nb', {}, 'ax \nb'],
  ['trim-right-only', 'a \n{{ "x" -}}\n\t b', {}, 'a \nxb'],
  ['no-trim-without-space', '{{-3}}', {}, '-3'],
  ['comment', 'a{{/* hi */}}b {{- /* trimmed */ -}} c', {}, 'abc'],
  ['comment-multiline', 'x{{/* line1\nline2 */}}y', {}, 'xy'],
  [
    'if-else-if',
    '{{ range .L }}{{ if eq . "a" }}A{{ else if eq . "b" }}B{{ else }}?{{ end }}{{ end }}',
    { L: ['a', 'b', 'c'] },
    'AB?',
  ],
  [
    'if-truthiness',
    '{{ if .E }}1{{ end }}{{ if .Z }}2{{ end }}{{ if .S }}3{{ end }}{{ if .M }}4{{ end }}{{ if .Missing }}5{{ end }}{{ if .T }}6{{ end }}',
    { E: [], Z: 0, S: '', M: {}, T: 'x' },
    '6',
  ],
  ['range-slice-vars', '{{ range $i, $e := .L }}{{ $i }}={{ $e }};{{ end }}', { L: ['x', 'y'] }, '0=x;1=y;'],
  [
    'range-map-sorted',
    '{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}',
    { M: { b: 2, a: 1, c: 3, B: 0 } },
    'B:0 a:1 b:2 c:3 ',
  ],
  [
    'range-else',
    '{{ range .L }}x{{ else }}empty{{ end }}|{{ range .Missing }}x{{ else }}none{{ end }}',
    { L: [] },
    'empty|none',
  ],
  [
    'range-break-continue',
    '{{ range .L }}{{ if eq . "skip" }}{{ continue }}{{ end }}{{ if eq . "stop" }}{{ break }}{{ end }}{{ . }},{{ end }}',
    { L: ['a', 'skip', 'b', 'stop', 'c'] },
    'a,b,',
  ],
  ['range-dot', '{{ range .L }}[{{ .N }}]{{ end }}', { L: [{ N: 'a' }, { N: 'b' }] }, '[a][b]'],
  [
    'with-else',
    '{{ with .A }}has {{ . }}{{ else }}none{{ end }}|{{ with .B }}has {{ . }}{{ else }}none{{ end }}',
    { A: 'a', B: '' },
    'has a|none',
  ],
  [
    'variables-scope',
    '{{ $x := "outer" }}{{ if true }}{{ $x := "inner" }}{{ $x }}{{ end }} {{ $x }}',
    {},
    'inner outer',
  ],
  ['variable-assign', '{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}', {}, 'b'],
  [
    'assign-in-range',
    '{{ $last := -1 }}{{ range $i, $m := .L }}{{ if eq $m "u" }}{{ $last = $i }}{{ end }}{{ end }}{{ $last }}',
    { L: ['u', 'a', 'u', 'a'] },
    '2',
  ],
  ['dollar-root', '{{ range .L }}{{ $.P }}{{ . }} {{ end }}', { L: ['a', 'b'], P: '>' }, '>a >b '],
  [
    'printf',
    '{{ printf "%s|%d|%v|%q|%f|%.2f|%5d|%-5s|%05d|%x|%t|%%" "s" 42 .V "q\\n" 1.5 3.14159 7 "ab" 42 255 true }}',
    { V: ['a', 'b'] },
    's|42|[a b]|"q\\n"|1.500000|3.14|    7|ab   |00042|ff|true|%',
  ],
  ['printf-bad-verb', '{{ printf "%d %s" "str" }}', {}, '%!d(string=str) %!s(MISSING)'],
  ['printf-extra', '{{ printf "%s" "a" "b" }}', {}, 'a%!(EXTRA string=b)'],
  ['print-spacing', '{{ print "a" 1 2 "b" true }}|{{ println "x" 1 }}', {}, 'a1 2btrue|x 1\n'],
  [
    'index',
    '{{ index .L 1 }} {{ index .M "k" }} {{ index .N 0 1 }} [{{ index .M "missing" }}]',
    { L: ['a', 'b'], M: { k: 'v' }, N: [['x', 'y']] },
    'b v y [<no value>]',
  ],
  ['index-string', '{{ index "abc" 1 }}', {}, '98'],
  [
    'slice',
    '{{ slice .L 1 }} {{ slice .L 1 2 }} {{ slice "hello" 1 3 }} {{ len (slice .L 2) }}',
    { L: ['a', 'b', 'c'] },
    '[b c] [b] el 1',
  ],
  ['len', '{{ len .L }} {{ len .M }} {{ len "héllo" }}', { L: [1, 2, 3], M: { a: 1 } }, '3 1 6'],
  [
    'eq-multi',
    '{{ eq .R "a" "b" "user" }} {{ eq .R "x" "y" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}',
    { R: 'user' },
    'true false true true true true false',
  ],
  [
    'and-or-operands',
    '[{{ and 1 "x" }}] [{{ and 1 0 "x" }}] [{{ or 0 "" "y" }}] [{{ or 0 "" }}] [{{ and .A .B }}]',
    { A: 'a', B: '' },
    '[x] [0] [y] [] []',
  ],
  [
    'and-short-circuit',
    '{{ if and .L (index .L 0) }}first={{ index .L 0 }}{{ else }}empty{{ end }}',
    { L: [] },
    'empty',
  ],
  ['or-short-circuit', '{{ or .A (index .L 5) }}', { A: 'yes', L: [] }, 'yes'],
  ['not', '{{ not .A }} {{ not .B }}', { A: '', B: 'x' }, 'true false'],
  [
    'define-template',
    '{{ define "item" }}<{{ .N }}>{{ end }}{{ range .L }}{{ template "item" . }}{{ end }}',
    { L: [{ N: 1 }, { N: 2 }] },
    '<1><2>',
  ],
  [
    'nested-define',
    '{{ define "a" }}A({{ template "b" . }}){{ end }}{{ define "b" }}B{{ . }}{{ end }}{{ template "a" "x" }}',
    {},
    'A(Bx)',
  ],
  ['block', '{{ block "greet" .Name }}Hi {{ . }}{{ end }}!', { Name: 'Bo' }, 'Hi Bo!'],
  [
    'parens-pipe',
    '{{ (len .L) }} {{ .S | printf "%s!" }} {{ "x" | printf "%s%s" "a" }} {{ (index .L 0).N }}',
    { L: [{ N: 'n' }], S: 's' },
    '1 s! ax n',
  ],
  [
    'literals',
    '{{ "a\\tb\\u00e9" }} {{ `raw\\n` }} {{ 1.5 }} {{ 0x1F }} {{ \'a\' }} {{ true }} {{ -7 }} {{ 1e3 }}',
    {},
    'a\tbé raw\\n 1.5 31 97 true -7 1000',
  ],
  ['missing-key', '[{{ .Missing }}] [{{ .Nil }}]', { Nil: null }, '[<no value>] [<no value>]'],
  [
    'print-map-slice',
    '{{ .M }} {{ .L }} {{ .E }}',
    { M: { b: [1, 2], a: 'x' }, L: ['a', { k: 'v' }], E: [] },
    'map[a:x b:[1 2]] [a map[k:v]] []',
  ],
  [
    'json',
    '{{ json .M }} {{ json .S }} {{ json .L }}',
    { M: { b: 1, a: ['<x>', 'y&z'] }, S: 'q"\n', L: [1.5, true, null] },
    '{"a":["\\u003cx\\u003e","y\\u0026z"],"b":1} "q\\"\\n" [1.5,true,null]',
  ],
  [
    'html-js-urlquery',
    '{{ html "<a href=\\"x\\">&\'" }} {{ js "it\'s <b>\\"q\\" = 1" }} {{ urlquery "a b&c=d/é" }}',
    {},
    '&lt;a href=&#34;x&#34;&gt;&amp;&#39; it\\\'s \\u003Cb\\u003E\\"q\\" \\u003D 1 a+b%26c%3Dd%2F%C3%A9',
  ],
  ['range-map-else', '{{ range $k, $v := .M }}{{ $k }}{{ else }}empty{{ end }}', { M: {} }, 'empty'],
];

describe('Go text/template conformance', () => {
  it.each(GO_CASES)('%s', (_name, tmpl, data, expected) => {
    expect(render(tmpl, data)).toBe(expected);
  });

  it('supports {{else with}} as Go 1.23+ (the Go that builds Ollama) does', () => {
    const t = '{{ with .A }}a{{ else with .B }}b={{ . }}{{ else }}none{{ end }}';
    expect(render(t, { B: 'bee' })).toBe('b=bee');
    expect(render(t, {})).toBe('none');
  });

  it('ranges over an integer as Go 1.22+ does', () => {
    expect(render('{{ range $i := 3 }}{{ $i }}{{ end }}', {})).toBe('012');
  });
});

describe('parse errors carry line and column', () => {
  // Messages are Go's; Go prints only the line, Corral adds the 1-based column.
  const cases: [string, string, string][] = [
    ['a\n{{ .X ', 'template: :2:7: unclosed action', 'unclosed action'],
    ['x{{ end }}', 'template: :1:5: unexpected {{end}}', 'stray end'],
    ['{{ else }}', 'template: :1:4: unexpected {{else}}', 'stray else'],
    ['{{ if .X }}a', 'template: :1:12: unexpected EOF', 'missing end'],
    ['{{ $x }}', 'template: :1:4: undefined variable "$x"', 'undefined variable'],
    ['{{ foo 1 }}', 'template: :1:4: function "foo" not defined', 'unknown function'],
    ['{{ }}', 'template: :1:4: missing value for command', 'empty action'],
    [
      '{{ .X | "a" }}',
      'template: :1:9: non executable command in pipeline stage 2',
      'literal pipeline stage',
    ],
    ['{{ break }}', 'template: :1:4: {{break}} outside {{range}}', 'break outside range'],
    ['{{/* x }}', 'template: :1:1: unclosed comment', 'unclosed comment'],
    ['{{/* x */ }}', 'template: :1:1: comment ends before closing delimiter', 'comment not at delimiter'],
    ['{{ "abc }}', 'template: :1:4: unterminated quoted string', 'unterminated string'],
    ['{{ .X # }}', 'template: :1:7: unexpected "#" in operand', 'bad character'],
    ['{{ (.X }}', 'template: :1:8: unclosed left paren', 'unclosed paren'],
    ['{{ .X) }}', 'template: :1:6: unexpected ")" in command', 'extra paren'],
    ['{{ $a, $b := .X }}', 'template: :1:6: too many declarations in command', 'two variables outside range'],
    [
      '{{ if 1 }}{{ define "x" }}{{ end }}{{ end }}',
      'template: :1:14: unexpected <define> in command',
      'nested define',
    ],
    ['{{ if 1 }}{{ else }}{{ else }}{{ end }}', 'template: :1:24: expected end; found {{else}}', 'two elses'],
    [
      'line1\nline2 {{ if .X }}\n  {{ .Y }}\n{{ end }}{{ end }}',
      'template: :4:13: unexpected {{end}}',
      'position on a later line',
    ],
  ];
  it.each(cases)('%j → %s (%s)', (src, message) => {
    let err: unknown;
    try {
      Template.parse(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateSyntaxError);
    expect((err as Error).message).toBe(message);
  });

  it('reports the line and column as numbers', () => {
    try {
      Template.parse('ok\n  {{ nope }}');
      throw new Error('parsed');
    } catch (e) {
      expect(e).toMatchObject({ line: 2, col: 6 });
    }
  });
});

describe('execution errors', () => {
  // Go's wording (Go reports a 0-based byte column; Corral a 1-based one).
  const cases: [string, unknown, string][] = [
    [
      '{{ .Missing.Sub }}',
      {},
      'template: :1:4: executing "" at <.Missing.Sub>: nil pointer evaluating interface {}.Sub',
    ],
    [
      '{{ index .L 5 }}',
      { L: [1] },
      'template: :1:4: executing "" at <index .L 5>: error calling index: index out of range: 5',
    ],
    [
      '{{ eq "a" true }}',
      {},
      'template: :1:4: executing "" at <eq "a" true>: error calling eq: incompatible types for comparison',
    ],
    ['{{ range .S }}x{{ end }}', { S: 'abc' }, 'template: :1:4: executing "": range can\'t iterate over abc'],
    [
      '{{ template "nope" }}',
      {},
      'template: :1:13: executing "" at <{{template "nope"}}>: template "nope" not defined',
    ],
    ['{{ nil }}', {}, 'template: :1:4: executing "" at <nil>: nil is not a command'],
    [
      '{{ .S.Foo }}',
      { S: 'x' },
      'template: :1:4: executing "" at <.S.Foo>: can\'t evaluate field Foo in type string',
    ],
  ];
  it.each(cases)('%s', (tmpl, data, message) => {
    expect(() => render(tmpl, data)).toThrow(new TemplateExecError(message, 0, 0));
  });

  it('stops a runaway template instead of hanging the gateway', () => {
    const t = Template.parse('{{ range $i := 100000000 }}x{{ end }}');
    expect(() => t.execute({}, { maxSteps: 10_000 })).toThrow(/exceeded 10000 steps/);
    expect(() => t.execute({}, { maxOutput: 1000 })).toThrow(/output exceeded 1000 characters/);
  });

  it('stops unbounded template recursion', () => {
    const t = Template.parse('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}');
    expect(() => t.execute({})).toThrow(/exceeded maximum template depth/);
  });
});
