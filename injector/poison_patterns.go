package injector

import (
	"regexp"
	"slices"
	"strings"
)

// The patterns Suspicious looks for. They run on lower-case text with
// plain spaces (see views), so they are written in lower case.

// Words an instruction to a model is about.
const (
	orders    = `(?:instructions?|prompts?|rules|directions|guidelines|guidance|directives|programming|constraints|restrictions|guardrails|commands|orders|policies|content\s+policy|configuration|system\s+(?:prompt|message)|task)`
	overrides = `(?:ignore|disregard|forget(?:\s+about)?|override|bypass|discard|abandon|neglect|skip|drop|set\s+aside|throw\s+out|pay\s+no\s+attention\s+to|revoke|cancel|do\s+not\s+follow|don'?t\s+follow|stop\s+following)`
	earlier   = `(?:previous|prior|above|earlier|preceding|foregoing|original|initial|old|existing|system|developer|default|current|safety|memory|content|usage|all|any|every|your|the|those|these|other|of|whatever|you\s+were\s+given)`
	replies   = `(?:answers?|responses?|replies|reply|messages?|outputs?|recommendations?|conversations?|chats?|sessions?)`
	roles     = `(?:system|assistant|developer|admin|administrator|human|user|chatbot|ai\s+assistant|instruction|instructions|sys)`
)

var englishPatterns = newPatternSet(
	// Overrides of earlier instructions, in any order of their words.
	p("ignore ignores ignored ignoring disregard disregards disregarding forget forgets forgetting override overrides overriding bypass discard abandon neglect skip drop aside throw attention revoke cancel follow following",
		overrides+`\s+(?:`+earlier+`\s+){0,4}`+orders),
	p("ignore ignores ignored ignoring disregard disregards disregarding forget forgets forgetting override overrides overriding bypass discard abandon neglect skip drop aside throw attention revoke cancel follow following",
		overrides+`\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before|i\s+said\s+before)`),
	p("void cancelled canceled obsolete revoked invalid null suspended lifted longer",
		`\b`+orders+`\s+(?:above|before|so\s+far)?\s*(?:are|is)\s+(?:now\s+)?(?:void|cancell?ed|obsolete|revoked|invalid|null|suspended|lifted|no\s+longer\s+(?:valid|apply|in\s+effect))`),
	p("longer don dont not",
		`\b(?:your|all\s+(?:your|the|previous|prior)|previous|prior|earlier|original|system)\s+`+orders+`\s+(?:no\s+longer|don'?t|do\s+not)\s+(?:apply|matter|count|bind)`),
	// Role markers: a role and a colon at the start of a line or after a
	// markup character; a role tag; chat-template tokens.
	p(":",
		`(?:^|[\n>\]\)\}#*|"',`+"`"+`]|\.\s)\s*`+roles+`(?:\s+(?:prompt|message|note|notice|override|update|instructions?)){0,2}\s*:`),
	p("new updated revised real actual hidden secret true rule rules instruction instructions order orders update",
		`\b(?:new|updated|revised|real|actual|hidden|secret|true)\s+(?:system\s+)?(?:instructions?|prompt|directives?|orders|persona|task)\s*[:\-=]`+
			`|\b(?:new|updated|revised)\s+(?:rules?|polic(?:y|ies))\s+for\s+(?:you|the\s+(?:assistant|ai|bot|model))|\b(?:my|the|new)\s+(?:rules?|instructions?|orders?)\s+for\s+you\b|\bpolicy\s+update\s*:`),
	p("< ```",
		`<\s*/?\s*(?:system[\w-]*|sys|instructions?|prompt|assistant|developer|admin|memproxy[\w-]*|memor(?:y|ies)[\w-]*|context|tool[\w-]*|function[\w-]*|im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|s)\s*/?>|<!--[^>]{0,60}(?:end|system|memor|instruction)`+"|```\\s*(?:system|instructions?|prompt)\\b"),
	p("<|",
		`<\|[^|>]{0,40}\|>`),
	p("<<",
		`<<\s*/?\s*sys\s*>>`),
	p("[",
		`\[\s*/?\s*(?:inst|sys|system|instructions?|admin|developer)\s*\]`),
	p("##",
		`#{2,}\s*(?:instructions?|system|response|input|assistant|user|human|task|prompt|new\s+rules?)\b`),
	p("role",
		`"role"\s*:\s*"(?:system|assistant|developer|tool)"`),
	// Re-casting the assistant.
	p("now longer",
		`\byou\s+are\s+now\b|\byou'?re\s+now\s+(?:a|an|my|the|in|dan|free)\b|\byou\s+are\s+no\s+longer\b|\byou'?re\s+no\s+longer\b`),
	p("now",
		`\bfrom\s+now\s+on,?\s+(?:you|the\s+(?:assistant|ai|model|bot))\b`),
	p("future subsequent following later upcoming",
		`\b(?:for|in)\s+(?:all|every)\s+(?:future|subsequent|following|later|upcoming)\s+`+replies),
	p("pretend pretending act acting behave roleplay role",
		`\b(?:pretend|act|behave|roleplay|role-play)\s+(?:to\s+be|as\s+if|as\s+though|as|like)\s+(?:you|an?\s+(?:\w+\s+){0,2}(?:ai|model|assistant|chatbot|bot)|dan|the\s+(?:system|developer))\b`),
	p("mode godmode god jailbreak jailbroken",
		`\b(?:enter|enable|activate|switch\s+(?:to|into)|turn\s+on|you\s+are\s+(?:now\s+)?in|you'?re\s+(?:now\s+)?in|now\s+in|engage|go\s+into)\s+(?:\w+\s+)?(?:developer|god|jailbreak|dan|debug|sudo|admin|unrestricted|unfiltered|maintenance|root)\s+mode\b|\b(?:developer|god|jailbreak|dan|sudo|unrestricted|unfiltered)\s+mode\s+(?:enabled|activated|is\s+on|on|engaged)\b|\bgod\s?mode\b`),
	p("anything",
		`\bdo\s+anything\s+now\b`),
	p("restrictions filter filters filtering limitations limits censorship guardrails safety rules ethics",
		`\b(?:without|with\s+no|free\s+(?:of|from))\s+(?:any\s+)?(?:restrictions|filters?|filtering|limitations|limits|censorship|guardrails|safety|rules|ethics)\b`),
	p("safety content filter filters guardrails restrictions censorship moderation alignment",
		`\b(?:bypass|disable|turn\s+off|switch\s+off|deactivate|remove|lift|circumvent|get\s+around)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:your\s+|the\s+|its\s+)?(?:safety\s+(?:filters?|rules|guidelines|training|settings|layer)|content\s+(?:polic(?:y|ies)|filters?|filtering|moderation)|filters|guardrails|restrictions|censorship|moderation|alignment|usage\s+polic(?:y|ies))`),
	p("bound",
		`\b(?:no\s+longer|not)\s+bound\s+by\b`),
	// Revealing or sending what the model holds.
	p("prompt prompts instructions configuration key keys secret secrets memories context messages",
		`\b(?:reveal|print|show|repeat|output|leak|display|dump|recite|tell\s+me|give\s+me|share|expose|disclose)\s+(?:me\s+)?(?:your|the|all|any|its|hidden|secret|initial|original|full|system)\s+(?:\w+\s+){0,2}(?:system\s+)?(?:prompts?|instructions|messages?\s+above|configuration|api\s+keys?|secrets?|memories\s+of\s+(?:other|all)|context\s+window)`),
	p("conversation conversations chat history logs log key keys credentials password passwords prompt memories data users",
		`\b(?:send|forward|email|e-mail|post|upload|exfiltrate|leak|transmit|copy)\s+(?:\w+\s+){0,3}(?:conversations?|chat\s+(?:history|logs?)|api\s+keys?|credentials|passwords?\s+of|system\s+prompt|memories|user\s+data|other\s+users)\b`),
	p("users user",
		`\b(?:list|show|print|reveal)\s+(?:\w+\s+){0,2}(?:other|all|every)\s+users?'?\s*(?:memories|data|messages|conversations)`),
	// Directives meant to outlive the conversation: what the model must do
	// in every answer, for every user, whenever something comes up.
	p("answer answers response responses reply replies message messages output outputs recommendation recommendations conversation conversations chat chats session sessions",
		`\b(?:include|add|append|insert|mention|recommend|promote|advertise|link|say|put|end|start|begin|sign|close|finish)\b[^\n]{0,100}?\b(?:in|to|at\s+the\s+(?:end|start|beginning|bottom|top)\s+of|with|into)\s+(?:every|each|all|any)\s+(?:of\s+)?(?:your\s+|future\s+|subsequent\s+)*`+replies),
	p("answer answers response responses reply replies message messages output outputs recommendation recommendations conversation conversations chat chats session sessions",
		`\b(?:in|at\s+the\s+end\s+of|at\s+the\s+start\s+of)\s+(?:every|each|all)\s+(?:of\s+)?(?:your\s+|future\s+|subsequent\s+)*`+replies+`,?\s+(?:you\s+)?(?:must|should|shall|will|always|include|add|mention|say|recommend|end|start|append|link)\b`),
	p("users user customer customers one body people answer answers response responses reply replies message messages output outputs",
		`(?:^|[.:;!?\n]\s*)(?:please\s+)?(?:always|never|make\s+sure\s+(?:to|you)|be\s+sure\s+to|remember\s+to\s+always|don'?t\s+ever)\s+(?:\w+\s+){0,3}(?:(?:tell|inform|recommend|advise|direct|send|refer)\s+(?:every|each|all|any|other)\s+(?:users?|customers?|one|body|people)|(?:in|to|with)\s+(?:every|each|all|any)\s+`+replies+`)`),
	p("users user customers customer person people one visitor visitors client clients",
		`\b(?:tell|inform|recommend\s+to|advise|direct|refer|redirect|send)\s+(?:every|each|all|any|other)\s+(?:other\s+)?(?:users?|customers?|person|people|one|visitors?|clients?)\b`),
	p("when whenever",
		`\bwhen(?:ever)?\s+(?:anyone|someone|somebody|any\s+user|a\s+user|another\s+user|other\s+users|users|people|the\s+user|a\s+customer|customers)\s+(?:asks?|mentions?|talks?|says?|requests?|wants?|inquires?|writes?)\b[^.\n]{0,80}\b(?:you\s+(?:must|should|will|shall)|say|tell\s+(?:them|him|her)|respond|reply|answer|recommend|send\s+them|direct\s+them|reply\s+with|always|only)\b`),
	p("assistant ai model chatbot bot llm",
		`\b(?:the\s+)?(?:assistant|ai|model|chatbot|bot|llm)\s+(?:must|should|shall|will\s+(?:now|always|never)|has\s+to|needs\s+to|is\s+(?:required|instructed|ordered|allowed)\s+to)\s+(?:always|never|now|only|obey|comply|follow|ignore|reveal|include|respond|answer|reply|say|tell|recommend|use|act|pretend|forget|disregard)\b`),
	p("must shall will required instructed ordered commanded have",
		`\byou\s+(?:must|shall|will|are\s+(?:required|instructed|ordered|commanded)\s+to|have\s+to)\s+(?:now\s+|always\s+|only\s+|henceforth\s+)*(?:obey|comply|follow\s+(?:my|these|the\s+new|only)|ignore|disregard|forget|reveal|do\s+(?:whatever|everything|as)\s+i|answer\s+(?:only|every)|respond\s+only|never\s+refuse|not\s+refuse|include)\b`),
	p("obey",
		`\bobey\s+(?:me|only\s+me|my\s+(?:commands|instructions|orders|rules)|the\s+(?:user|following|new)|these|this|all\s+(?:my|user))\b`),
	p("comply",
		`\bcomply\s+with\s+(?:my|these|this|the\s+following|the\s+new|all)\s+(?:\w+\s+)?(?:instructions|commands|orders|requests|rules|directives)\b`),
	// Claims of authority over the model.
	p("im developer developers creator creators owner owners operator operators administrator administrators admin admins programmer programmers system sysadmin supervisor trainer maker",
		`\b(?:i\s+am|i'm|im|this\s+is|speaking\s+as|as)\s+(?:the|your|its)\s+(?:\w+\s+)?(?:developers?|creators?|owners?|operators?|administrators?|admins?|programmers?|sysadmin|maker|trainer)\b[^\n]{0,120}\b(?:policy|policies|instructions?|rules?|override|mode|commands?|authori[sz]e|authori[sz]ed|obey|comply|directive|must|unlock|access|restrictions|configuration|programming|release|permission|telling\s+you|switched\s+off|disabled)\b`),
	p("staff team engineer engineers employee employees support admin",
		`\b(?:openai|anthropic|google|meta|microsoft|memproxy)\s+(?:staff|team|engineers?|employees?|support|admin|safety\s+team)\s+(?:here|speaking|says|said|requires|instructs)\b`),
	p("override access privilege privileges command password code key",
		`\b(?:admin|administrator|developer|system|root|sudo|master|override|security|authori[sz]ation)\s+(?:override|access|privileges?|command|password|code|key)\b[^\n]{0,40}[:=]`),
	p("authorization authorisation",
		`\bauthori[sz]ation\s+(?:code|level|token)\b`),
	p("authorize authorise permit allow order command instruct",
		`\bi\s+(?:hereby\s+)?(?:authori[sz]e|permit|allow|order|command|instruct)\s+you\s+to\b`),
	p("override",
		`\boverride\s+(?:code|command|protocol|enabled|activated|accepted)\b`),
	// Statements that what steers the model has changed.
	p("directives instructions guidelines constraints guardrails policy policies safety moderation system privileges restrictions filters",
		`\b(?:directives|instructions|guidelines|constraints|guardrails|content\s+polic(?:y|ies)|usage\s+polic(?:y|ies)|safety\s+(?:rules|filters?|layer|training|guidelines)|moderation(?:\s+layer)?|system\s+(?:message|prompt)|privileges|restrictions|filters)\b[^.\n]{0,40}\b(?:superseded|rescinded|revoked|lifted|retracted|replaced|cancell?ed|void|disabled|removed|suspended|waived|overridden|outdated|obsolete|granted|switched\s+off|turned\s+off|no\s+longer\s+(?:apply|valid|in\s+effect))\b`),
	p("precedence priority",
		`\b(?:this|these|my)\s+(?:message|memory|memories|note|instructions?)\s+(?:takes?|has|have)\s+(?:precedence|priority)`),
	p("exempt",
		`\bexempt\s+from\s+(?:the|all|any|your)\s+(?:rules|restrictions|filters|polic(?:y|ies)|moderation|guidelines)`),
	p("priority privileges rights permissions access",
		`\b(?:admin|root|elevated|system|highest|superuser)\s+(?:priority|privileges|rights|permissions|access)\b[^.\n]{0,30}\b(?:granted|until|enabled|for\s+this|active)\b`),
	p("sharing revealing disclosing exporting sending",
		`\b(?:sharing|revealing|disclosing|exporting|sending)\s+(?:all\s+)?(?:stored\s+)?(?:user\s+data|memories|conversations|chat\s+logs|personal\s+data\s+of)`),
	p("listen programmed",
		`\blisten\s+only\s+to\s+me\b|\bonly\s+(?:listen\s+to|obey|follow)\s+me\b|\byou\s+were\s+programmed\b`),
	p("give tell send recommend say show share read mention forward direct refer offer",
		`\b(?:give|tell|send|recommend|say|show|share|read|mention|forward|direct|refer|offer)\s+(?:it|this|that|them)\s+(?:back\s+)?to\s+(?:everyone|everybody|anyone|anybody|all\s+users|other\s+users|whoever)`),
	p("want need like expect order command instruct require",
		`\bi\s*(?:want|need|would\s+like|'d\s+like|expect|order|command|instruct|require)\s+you\s+to\s+(?:always|never|from\s+now|only|ignore|forget|tell|say|recommend|include|answer|respond|reply|treat|act|pretend|stop|obey|mention|promote)`),
	p("answer answers response responses reply replies message messages",
		`\b(?:every|each|all|any)\s+(?:\w+\s+){0,2}(?:answers?|responses?|repl(?:y|ies)|messages?)\s+you\s+(?:give|write|send|make|produce)`),
	p("asked told instructed",
		`\b(?:asked|told|instructed)\s+me\s+to\s+(?:tell|inform|remind)\s+you\b`),
	p("disable enable unlock",
		`\b(?:disable|enable|unlock)_(?:safety|filters?|guardrails|restrictions|moderation)\b`),
	p("start begin end finish close sign open",
		`\b(?:start|begin|end|finish|close|sign|open)\s+(?:every|each|all)\s+(?:of\s+)?(?:your\s+)?(?:answers?|responses?|repl(?:y|ies)|messages?)\b`),
	p("now",
		`\bfrom\s+now\s+on,?\s+(?:always|never|only)\s+(?:recommend|promote|mention|include|tell|say|advertise|link|send|praise|answer|respond|reply|start|end|add)`),
)

// squeezedPatterns find the worst phrases spelled out letter by letter
// with no word breaks ("i g n o r e a l l p r e v i o u s …"). They run only
// on text that holds letters spread apart, because squeezing ordinary text
// glues its words into false ones.
var squeezedPatterns = newPatternSet(
	p("", `(?:ignore|disregard|forget|override|bypass)(?:all|any|the|your|of|previous|prior|above|earlier|preceding|system|original|initial|every|these|those)*(?:instructions?|prompts?|rules|directions|guidelines|directives|orders|commands)`),
	p("", `systemprompt|youarenow|developermode|jailbreak|doanythingnow|nowyouare|fromnowonyou|newinstructions|revealyour`),
)

// otherLanguages are overrides, role changes and directives in languages
// other than English, on the folded view (lower case, NFKC, no invisible
// characters).
var otherLanguages = newPatternSet(
	// Spanish, Portuguese, Italian, Catalan
	p("ignora ignore ignorar ignorad olvida olvide olvidad olvídate omite omitir descarta esqueça esqueca esquece desconsidere desconsidera dimentica dimenticate trascura considerare",
		`(?:^|\P{L})(?:ignora|ignore|ignorar|ignorad|olvida|olvide|olvidad|olvídate|omite|omitir|descarta|esqueça|esqueca|esquece|desconsidere|desconsidera|dimentica|dimenticate|trascura|non\s+considerare)(?:\P{L}|$)[^.\n]{0,50}(?:^|\P{L})(?:instrucciones|indicaciones|reglas|órdenes|normas|instruções|instrucoes|regras|orientações|istruzioni|regole|indicazioni|direttive)`),
	p("ahora agora poi adesso",
		`(?:^|\P{L})(?:a\s+partir\s+de\s+ahora|desde\s+ahora|de\s+ahora\s+en\s+adelante|a\s+partir\s+de\s+agora|de\s+agora\s+em\s+diante|d'ora\s+in\s+poi|da\s+ora\s+in\s+poi|da\s+adesso)[,\s]+(?:eres|serás|debes|responde|responderás|tú|você|voce|tu\s+és|deves|sei|devi|rispondi|risponderai|siempre|sempre)`),
	p("eres sei voce você",
		`(?:^|\P{L})(?:ahora\s+eres|agora\s+você\s+é|agora\s+voce\s+e|ora\s+sei|adesso\s+sei)(?:\P{L}|$)`),
	p("nuevas novas nuove",
		`(?:^|\P{L})(?:nuevas|novas|nuove)\s+(?:instrucciones|instruções|istruzioni|reglas|regras|regole)\s*:`),
	p("cada todas ogni tutte",
		`(?:^|\P{L})(?:en|em|in)\s+(?:cada|todas?\s+(?:las|as)|ogni|tutte\s+le)\s+(?:respuestas?|respostas?|risposte?|risposta)(?:\P{L}|$)`),
	// French
	p("ignore ignorez ignores oublie oubliez oublies compte abstraction",
		`(?:^|\P{L})(?:ignore[zs]?|oublie[zs]?|ne\s+tiens?\s+pas\s+compte\s+de|ne\s+tenez\s+pas\s+compte\s+de)\s+(?:toutes\s+|tous\s+)?(?:tes|vos)\s+(?:\w+\s+)?(?:instructions|consignes|règles|directives|ordres)|(?:^|\P{L})(?:ignore[zs]?|oublie[zs]?)\s+(?:toutes\s+|tous\s+)?(?:les|ces)\s+(?:instructions|consignes|règles|directives|ordres)\s+(?:précédentes|antérieures|ci-dessus|d'avant|initiales|du\s+système)`),
	p("désormais dorénavant maintenant aujourd",
		`(?:^|\P{L})(?:désormais|dorénavant|à\s+partir\s+de\s+maintenant|a\s+partir\s+de\s+maintenant|à\s+partir\s+d'aujourd'hui)[,\s]+(?:tu|vous)\s+(?:es|êtes|dois|devez|réponds|répondez|répondras|répondrez|vas|allez|ne)`),
	p("maintenant désormais dorénavant",
		`(?:^|\P{L})(?:tu\s+es|vous\s+êtes)\s+(?:maintenant|désormais|dorénavant)(?:\P{L}|$)`),
	p("nouvelle nouvelles",
		`(?:^|\P{L})(?:nouvelles?\s+(?:instructions|consignes|règles))\s*:`),
	p("chaque toutes",
		`\bdans\s+(?:chaque|toutes\s+tes|toutes\s+vos|toutes\s+les)\s+(?:réponses?|messages?)(?:\P{L}|$)`),
	// German, Dutch
	p("ignoriere ignorieren ignoriert ignorier vergiss vergessen missachte missachten übergehe negeer vergeet",
		`(?:^|\P{L})(?:ignorier(?:e|en\s+sie|t)?|vergiss|vergessen\s+sie|missachte|missachten\s+sie|übergehe|negeer|vergeet)(?:\P{L}|$)[^.\n]{0,60}(?:^|\P{L})(?:anweisungen|instruktionen|regeln|vorgaben|befehle|richtlinien|anleitungen|instructies|regels|opdrachten)`),
	p("jetzt sofort nun vanaf voortaan",
		`(?:^|\P{L})(?:ab\s+(?:jetzt|sofort)|von\s+nun\s+an|vanaf\s+nu|voortaan)[,\s]+(?:bist\s+du|du\s+bist|antwortest\s+du|antworte|musst\s+du|sollst\s+du|wirst\s+du|ben\s+je|jij\s+bent|moet\s+je|antwoord)`),
	p("bist bent",
		`(?:^|\P{L})(?:du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|jij\s+bent\s+nu|je\s+bent\s+nu)(?:\P{L}|$)`),
	p("neue nieuwe",
		`(?:^|\P{L})(?:neue|nieuwe)\s+(?:anweisungen|regeln|instructies|regels)\s*:`),
	p("jeder allen elk",
		`(?:^|\P{L})(?:in\s+jeder|in\s+allen)\s+(?:antwort|antworten|nachricht)(?:\P{L}|$)|\bin\s+elk\s+antwoord\b`),
	p("ahora",
		`(?:a\s+partir\s+de\s+ahora|desde\s+ahora)[,\s]+(?:\S+\s+){0,2}(?:recomienda|responde|di|dile|diles|menciona|incluye|termina|ignora|olvida|eres|debes|nunca|siempre)(?:\P{L}|$)`),
	p("política políticas reglas instrucciones",
		`(?:nueva\s+pol[ií]tica|nuevas\s+(?:reglas|instrucciones|pol[ií]ticas))\s*:`),
	p("usuarios utilisateurs utenti usuários",
		`(?:a\s+todos\s+los\s+usuarios|à\s+tous\s+les\s+utilisateurs|a\s+tutti\s+gli\s+utenti|a\s+todos\s+os\s+usu[áa]rios)`),
	p("sistema système systeme система 系统 系統 システム 시스템 sistem",
		`(?:^|[\s>\]])(?:sistema|système|systeme|система|系统|系統|システム|시스템|sistem)\s*[:：]`),
	p("désormais dorénavant maintenant",
		`(?:désormais|dorénavant|à\s+partir\s+de\s+maintenant)[,\s]+(?:\S+\s+){0,2}(?:termine|réponds|dis|ajoute|inclus|mentionne|recommande|conseille|ignore|oublie)(?:\P{L}|$)`),
	p("chaque",
		`chaque\s+fois\s+qu[e']\s*(?:on|quelqu'un|un\s+utilisateur)[^,]{0,60},\s*(?:conseille|recommande|dis|réponds|mentionne)`),
	p("als filter umgehen",
		`(?:^|\P{L})als\s+(?:dein|ihr|euer)\s+(?:administrator|admin|entwickler|betreiber|schöpfer)|filter\s+(?:zu\s+)?umgehen|(?:umgehe|deaktiviere)\s+(?:alle\s+)?(?:filter|sicherheits)`),
	p("poi adesso",
		`(?:d'ora\s+in\s+poi|da\s+ora\s+in\s+poi|da\s+adesso)[,\s]+(?:\S+\s+){0,2}(?:consiglia|rispondi|di|aggiungi|includi|menziona|ignora)(?:\P{L}|$)`),
	p("esqueça esqueca restrições restricoes",
		`esque[çc]a\s+(?:suas|as|todas\s+as)\s+(?:diretrizes|instru[çc][õo]es|regras)|(?:n[ãa]o\s+tem|sem)\s+restri[çc][õo]es`),
	p("политика правила фильтров ограничений цензуры отключи выключи убери доступа разработчик создатель администратор",
		`(?:новая\s+политика|новые\s+правила)\s*:|без\s+(?:фильтров|ограничений|цензуры)|(?:отключи|выключи|убери)\s+(?:все\s+)?(?:фильтры|ограничения)|код\s+доступа|(?:разработчик|создатель|администратор)\s+(?:этого|этой)\s+(?:бота|приложения|системы|модели)`),
	p("绕过 繞過 关闭 關閉 禁用 我是",
		`(?:绕过|繞過|关闭|關閉|禁用)[^。]{0,8}(?:过滤|過濾|限制|安全)|我是(?:管理员|管理員|开发者|開發者)`),
	p("السياسة مطور",
		`السياسة\s+الجديدة|مطور\s+هذا\s+(?:التطبيق|البوت|النظام)`),
	p("vanaf",
		`vanaf\s+nu[,\s]+(?:\S+\s+){0,2}(?:raad|antwoord|zeg|noem|vermeld|voeg)(?:\P{L}|$)`),
	p("każdej zapomnij jesteś",
		`w\s+każdej\s+odpowiedzi|zapomnij\s+o\s+(?:swoich|twoich|wszystkich)\s+(?:zasadach|instrukcjach|poleceniach)|jesteś\s+teraz`),
	p("her",
		`(?:^|\P{L})her\s+(?:cevab|yanıt|yanit)`),
	// Polish, Turkish
	p("zignoruj ignoruj zapomnij pomiń",
		`(?:^|\P{L})(?:zignoruj|ignoruj|zapomnij|pomiń)(?:\P{L}|$)[^.\n]{0,50}(?:^|\P{L})(?:instrukcje|instrukcji|polecenia|poleceń|zasady|reguły)`),
	p("teraz",
		`(?:^|\P{L})(?:od\s+teraz)[,\s]+(?:jesteś|musisz|odpowiadaj)`),
	p("talimatları talimatlari talimatı kuralları kurallari yönergeleri",
		`(?:talimatları|talimatlari|talimatı|kuralları|kurallari|yönergeleri)[^.\n]{0,40}(?:yok\s+say|görmezden\s+gel|gormezden\s+gel|unut|dikkate\s+alma)`),
	p("artık sonra",
		`(?:^|\P{L})(?:artık\s+sen|bundan\s+sonra\s+sen)(?:\P{L}|$)`),
	// Russian, Ukrainian
	p("игнорируй игнорируйте проигнорируй проигнорируйте забудь забудьте обращай отмени игноруй",
		`(?:игнорируй|игнорируйте|проигнорируй|проигнорируйте|забудь|забудьте|не\s+обращай\s+внимания\s+на|отмени|игноруй|забудь\s+про)[^.\n]{0,60}(?:инструкци|указани|правил|команд|директив|ограничени)`),
	p("теперь момента отныне",
		`(?:теперь\s+ты|с\s+этого\s+момента[,\s]+(?:ты|будешь|должен|должна|отвечай|всегда|никогда)|отныне[,\s]+(?:ты|будешь|должен|должна|отвечай|всегда|никогда))`),
	p("новые",
		`(?:новые\s+(?:инструкции|правила|указания))\s*:`),
	p("каждом всех",
		`(?:в\s+каждом\s+ответе|во\s+всех\s+ответах|в\s+каждом\s+сообщении)`),
	// Chinese
	p("忽略 无视 無視 忽視 忘记 忘記 忘掉 理会 理會 放弃 拋棄 抛弃 跳过 跳過",
		`(?:忽略|无视|無視|忽視|忘记|忘記|忘掉|不要理会|不要理會|不理会|放弃|拋棄|抛弃|跳过|跳過)[^。\n]{0,12}(?:指令|指示|说明|說明|规则|規則|提示|设定|設定|要求|命令|限制)`),
	p("现在 現在 今后 今後",
		`(?:从现在开始|從現在開始|从现在起|從現在起|今后|今後)[,，\s]*(?:你|您)`),
	p("你现在 你現在 不再",
		`(?:你现在是|你現在是|你现在扮演|你現在扮演|你已经不再|你不再是)`),
	p("新",
		`(?:新的?(?:指令|规则|規則|指示))[:：]`),
	p("每",
		`(?:每(?:一)?(?:个|個|条|條|次)?(?:回答|回复|回覆|答复|答覆|回應|回应)(?:中|里|裡|都)?)`),
	p("提示",
		`(?:系统提示|系統提示|系统提示词|系統提示詞)`),
	// Japanese
	p("無視 むし 忘れ",
		`(?:指示|命令|ルール|プロンプト|指令|設定|制限)[^。\n]{0,12}(?:無視|むし|忘れ)`),
	p("無視 忘れ",
		`(?:無視|忘れ)[^。\n]{0,12}(?:指示|命令|ルール|プロンプト)`),
	p("今から これから 今後",
		`(?:今から|これから|今後)[、,\s]*(?:あなた|君|きみ|お前)は`),
	p("あなたは 君は",
		`(?:あなたは今から|あなたはもう|あなたは今|君は今から)`),
	p("回答 返答 返信 応答",
		`(?:すべての|全ての|毎回の|各)(?:回答|返答|返信|応答)`),
	p("システムプロンプト",
		`(?:システムプロンプト)`),
	// Korean
	p("무시 잊어 잊고",
		`(?:지시|명령|규칙|지침|프롬프트|설정|제한)[^.\n]{0,12}(?:무시|잊어|잊고)`),
	p("지금부터 이제부터 앞으로",
		`(?:지금부터|이제부터|앞으로)\s*(?:너는|넌|당신은)`),
	p("답변 응답 대답",
		`(?:모든|매)\s*(?:답변|응답|대답)`),
	p("프롬프트",
		`(?:시스템\s*프롬프트)`),
	// Arabic, Persian
	p("تجاهل انس تناسى نادیده فراموش",
		`(?:تجاهل|تجاهلي|انسَ|انس|تناسى|نادیده\s+بگیر|فراموش\s+کن)[^.\n]{0,50}(?:التعليمات|الأوامر|القواعد|الإرشادات|تعليمات|دستورالعمل|دستورات|قوانین)`),
	p("الآن",
		`(?:من\s+الآن\s+فصاعدا|من\s+الآن\s+فصاعدًا|من\s+الآن)[،,\s]+(?:أنت|انت|يجب)`),
	p("كل",
		`(?:في\s+كل\s+(?:رد|إجابة|اجابة))`),
	// Hindi
	p("अनदेखा नज़रअंदाज़ नजरअंदाज भूल",
		`(?:निर्देशों|निर्देश|नियमों|नियम|आदेशों|आदेश)[^।\n]{0,40}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल\s+जाओ|भूल\s+जाएं|भूल\s+जाइए)`),
	p("अब",
		`(?:अब\s+से\s+(?:तुम|आप))`),
	p("हर",
		`(?:हर\s+(?:जवाब|उत्तर))`),
)

// casedRoleTag finds a role marker written in capitals anywhere, as in
// "I like tea SYSTEM: obey": in lower case "system:" is too common
// ("my operating system: linux") to flag on its own.
var casedRoleTag = regexp.MustCompile(`\b(?:SYSTEM|ASSISTANT|DEVELOPER|ADMIN|ADMINISTRATOR|INSTRUCTIONS?|SYS|ROOT|OVERRIDE)\s*(?:PROMPT|MESSAGE|NOTE|OVERRIDE|UPDATE)?\s*:`)

// A pattern is a regular expression with the words (or, for punctuation
// and scripts without spaces, the substrings) of which a match must hold
// at least one: its anchors. Go's regular expressions take tens of
// microseconds on a short text when they begin with a long alternation;
// the anchors let a text that holds none of them skip the pattern, so an
// ordinary memory costs a map lookup a word.
type pattern struct {
	anchors []string
	re      *regexp.Regexp
}

// p makes a pattern from its space-separated anchors; "" runs it always.
func p(anchors, re string) pattern {
	return pattern{anchors: strings.Fields(anchors), re: regexp.MustCompile(`(?m)` + re)}
}

// patternSet finds which patterns a text may match from its anchors, then
// runs only those.
type patternSet struct {
	patterns []pattern
	byWord   map[string][]int // lower-case word anchors
	bySubstr []anchor         // the rest
	always   []int
}

type anchor struct {
	text    string
	pattern int
	ascii   bool // an ASCII text cannot hold a non-ASCII anchor
}

func newPatternSet(ps ...pattern) *patternSet {
	set := &patternSet{patterns: ps, byWord: make(map[string][]int)}
	for i, pt := range ps {
		if len(pt.anchors) == 0 {
			set.always = append(set.always, i)
		}
		for _, a := range pt.anchors {
			if isWord(a) {
				set.byWord[a] = append(set.byWord[a], i)
			} else {
				set.bySubstr = append(set.bySubstr, anchor{a, i, isASCII(a)})
			}
		}
	}
	return set
}

// isWord reports whether s is an anchor that words of a text are looked up
// by: ASCII letters only.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// MatchString reports whether any pattern of the set matches s.
func (set *patternSet) MatchString(s string) bool {
	var candidates []int
	seen := make([]bool, len(set.patterns))
	add := func(is []int) {
		for _, i := range is {
			if !seen[i] {
				seen[i] = true
				candidates = append(candidates, i)
			}
		}
	}
	add(set.always)
	for i := 0; i < len(s); {
		if s[i] < 'a' || s[i] > 'z' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		if is, ok := set.byWord[s[i:j]]; ok {
			add(is)
		}
		i = j
	}
	ascii := isASCII(s)
	for _, a := range set.bySubstr {
		if !seen[a.pattern] && (a.ascii || !ascii) && strings.Contains(s, a.text) {
			add([]int{a.pattern})
		}
	}
	slices.Sort(candidates) // in the order written: the common ones first
	for _, i := range candidates {
		if set.patterns[i].re.MatchString(s) {
			return true
		}
	}
	return false
}
