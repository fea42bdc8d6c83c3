"""Vocabulary of the demo company: places, names, titles and the sentences of transcripts.

Everything here is data. The generators in ``people`` and ``company`` pick from it with a
seeded ``random.Random``, so the same seed always yields the same words.
"""

from __future__ import annotations

# Region choice value -> (code, cities). A city is (name, province, landline area code,
# administrative division prefix of the unified social credit code).
REGIONS: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "华东": (
        "EAST",
        [
            ("上海", "上海市", "021", "3101"),
            ("杭州", "浙江省", "0571", "3301"),
            ("宁波", "浙江省", "0574", "3302"),
            ("南京", "江苏省", "025", "3201"),
            ("苏州", "江苏省", "0512", "3205"),
            ("合肥", "安徽省", "0551", "3401"),
            ("济南", "山东省", "0531", "3701"),
            ("青岛", "山东省", "0532", "3702"),
            ("福州", "福建省", "0591", "3501"),
            ("厦门", "福建省", "0592", "3502"),
        ],
    ),
    "华南": (
        "SOUTH",
        [
            ("广州", "广东省", "020", "4401"),
            ("深圳", "广东省", "0755", "4403"),
            ("佛山", "广东省", "0757", "4406"),
            ("东莞", "广东省", "0769", "4419"),
            ("南宁", "广西壮族自治区", "0771", "4501"),
            ("海口", "海南省", "0898", "4601"),
        ],
    ),
    "华北": (
        "NORTH",
        [
            ("北京", "北京市", "010", "1101"),
            ("天津", "天津市", "022", "1201"),
            ("石家庄", "河北省", "0311", "1301"),
            ("太原", "山西省", "0351", "1401"),
            ("呼和浩特", "内蒙古自治区", "0471", "1501"),
        ],
    ),
    "华中": (
        "CENTRAL",
        [
            ("武汉", "湖北省", "027", "4201"),
            ("长沙", "湖南省", "0731", "4301"),
            ("郑州", "河南省", "0371", "4101"),
            ("南昌", "江西省", "0791", "3601"),
        ],
    ),
    "西南": (
        "SOUTHWEST",
        [
            ("成都", "四川省", "028", "5101"),
            ("重庆", "重庆市", "023", "5001"),
            ("昆明", "云南省", "0871", "5301"),
            ("贵阳", "贵州省", "0851", "5201"),
        ],
    ),
    "西北": (
        "NORTHWEST",
        [
            ("西安", "陕西省", "029", "6101"),
            ("兰州", "甘肃省", "0931", "6201"),
            ("银川", "宁夏回族自治区", "0951", "6401"),
            ("乌鲁木齐", "新疆维吾尔自治区", "0991", "6501"),
        ],
    ),
    "东北": (
        "NORTHEAST",
        [
            ("沈阳", "辽宁省", "024", "2101"),
            ("大连", "辽宁省", "0411", "2102"),
            ("长春", "吉林省", "0431", "2201"),
            ("哈尔滨", "黑龙江省", "0451", "2301"),
        ],
    ),
}

# How the demo's customers spread over regions and industries (relative weights).
REGION_WEIGHTS = {"华东": 30, "华南": 20, "华北": 18, "华中": 10, "西南": 10, "西北": 6, "东北": 6}
INDUSTRY_WEIGHTS = {
    "manufacturing": 28,
    "medical": 18,
    "energy": 14,
    "retail": 16,
    "software": 16,
    "other": 8,
}
GRADE_WEIGHTS = {"A": 8, "B": 22, "C": 40, "D": 30}

# Surnames and given-name characters with their pinyin, so e-mail addresses match names.
SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("余", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("苏", "su"),
    ("魏", "wei"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("任", "ren"),
    ("沈", "shen"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
    ("上官", "shangguan"),
]
GIVEN_CHARS = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("玉", "yu"),
    ("建", "jian"),
    ("国", "guo"),
    ("文", "wen"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("海", "hai"),
    ("宇", "yu"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("浩", "hao"),
    ("然", "ran"),
    ("子", "zi"),
    ("轩", "xuan"),
    ("博", "bo"),
    ("思", "si"),
    ("雨", "yu"),
    ("佳", "jia"),
    ("怡", "yi"),
    ("俊", "jun"),
    ("凯", "kai"),
    ("嘉", "jia"),
    ("志", "zhi"),
    ("红", "hong"),
    ("春", "chun"),
    ("梅", "mei"),
    ("兰", "lan"),
    ("斌", "bin"),
    ("飞", "fei"),
    ("亮", "liang"),
    ("峰", "feng"),
    ("晓", "xiao"),
    ("东", "dong"),
    ("鑫", "xin"),
    ("瑞", "rui"),
    ("颖", "ying"),
    ("倩", "qian"),
    ("慧", "hui"),
    ("成", "cheng"),
    ("林", "lin"),
    ("龙", "long"),
    ("波", "bo"),
    ("宁", "ning"),
]
# Syllables for domain names and WeCom ids.
BRAND_SYLLABLES = [
    "hua",
    "rui",
    "tai",
    "xin",
    "kang",
    "sheng",
    "tong",
    "da",
    "zhong",
    "heng",
    "yuan",
    "feng",
    "long",
    "hai",
    "tian",
    "jin",
    "bao",
    "cheng",
    "ming",
    "guang",
    "yi",
    "an",
    "xing",
    "fu",
    "hong",
    "jia",
    "run",
    "tuo",
    "wei",
    "chuang",
    "zhi",
    "lian",
    "ding",
]
DOMAIN_ENDINGS = [".com", ".com.cn", ".cn", ".net"]
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]

# Account names: templates per industry; {brand} is a company prefix, {city} a city.
ACCOUNT_TEMPLATES: dict[str, list[str]] = {
    "manufacturing": [
        "{city}{brand}精密制造有限公司",
        "{brand}机械股份有限公司",
        "{city}{brand}汽车零部件有限公司",
        "{brand}智能装备制造有限公司",
        "{city}{brand}电子制造有限公司",
        "{brand}新材料科技股份有限公司",
        "{city}{brand}化工有限公司",
    ],
    "medical": [
        "{city}市第{nth}人民医院",
        "{city}{brand}医院",
        "{city}{brand}中医医院",
        "{brand}医疗器械有限公司",
        "{city}{brand}妇幼保健院",
        "{brand}生物医药股份有限公司",
        "{city}{brand}医学检验所",
    ],
    "energy": [
        "{brand}新能源科技有限公司",
        "{city}{brand}电力有限公司",
        "{brand}光伏能源股份有限公司",
        "{city}{brand}燃气有限公司",
        "{brand}储能技术有限公司",
        "{city}{brand}热电有限公司",
    ],
    "retail": [
        "{brand}连锁超市有限公司",
        "{city}{brand}百货股份有限公司",
        "{brand}零售集团有限公司",
        "{city}{brand}商贸有限公司",
        "{brand}便利店连锁有限公司",
        "{city}{brand}母婴用品零售有限公司",
    ],
    "software": [
        "{brand}软件股份有限公司",
        "{city}{brand}信息技术有限公司",
        "{brand}云计算科技有限公司",
        "{city}{brand}数据科技有限公司",
        "{brand}软件技术有限公司",
    ],
    "other": [
        "{city}{brand}物流有限公司",
        "{brand}建设工程有限公司",
        "{city}{brand}教育科技有限公司",
        "{city}{brand}酒店管理有限公司",
    ],
}
GROUP_TEMPLATES: dict[str, str] = {
    "manufacturing": "{brand}制造集团股份有限公司",
    "medical": "{brand}医疗集团有限公司",
    "energy": "{brand}能源集团有限公司",
    "retail": "{brand}零售集团股份有限公司",
    "software": "{brand}软件集团有限公司",
    "other": "{brand}控股集团有限公司",
}
SUBSIDIARY_TEMPLATE = "{group}{city}{word}有限公司"
SUBSIDIARY_WORDS = {
    "manufacturing": "制造",
    "medical": "医疗",
    "energy": "能源",
    "retail": "零售",
    "software": "软件",
    "other": "实业",
}
NTH = ["一", "二", "三", "四", "五", "六", "七", "八"]

INDUSTRY_DESCRIPTIONS = {
    "manufacturing": "离散制造企业，正在推进数字化车间与供应链协同。",
    "medical": "医疗机构，关注临床信息化、医保合规与患者服务。",
    "energy": "能源企业，推进新能源项目管理与安全生产数字化。",
    "retail": "零售企业，门店网络持续扩张，重视会员运营与全渠道。",
    "software": "软件与信息服务企业，渠道与大客户并重。",
    "other": "综合型企业，信息化基础一般，预算审批较严。",
}

# Contacts: titles by rank, with a medical variant; decision roles likely at each rank.
TITLES: dict[str, list[str]] = {
    "c_level": ["董事长", "总经理", "首席执行官", "首席信息官", "首席财务官"],
    "vp": ["副总经理", "副总裁", "分管信息化副总", "运营副总裁"],
    "director": ["信息中心总监", "采购总监", "财务总监", "销售总监", "运营总监", "IT总监"],
    "manager": ["信息部经理", "采购经理", "项目经理", "市场经理", "客服经理"],
    "staff": ["系统管理员", "采购专员", "实施工程师", "业务主管", "数据分析员"],
}
MEDICAL_TITLES: dict[str, list[str]] = {
    "c_level": ["院长", "党委书记"],
    "vp": ["副院长", "分管信息化副院长"],
    "director": ["信息科主任", "医务处处长", "设备科主任", "财务处处长"],
    "manager": ["信息科副主任", "设备科科长", "护理部主任"],
    "staff": ["信息科工程师", "采购办专员", "临床科室秘书"],
}
RANK_WEIGHTS = {"c_level": 12, "vp": 15, "director": 28, "manager": 27, "staff": 18}
ROLES_BY_RANK: dict[str, dict[str, int]] = {
    "c_level": {"decision_maker": 80, "influencer": 15, "blocker": 5},
    "vp": {"decision_maker": 40, "influencer": 35, "champion": 10, "blocker": 15},
    "director": {"influencer": 40, "champion": 25, "blocker": 15, "gatekeeper": 20},
    "manager": {"user": 35, "champion": 25, "gatekeeper": 25, "influencer": 15},
    "staff": {"user": 70, "gatekeeper": 25, "champion": 5},
}
STANCE_BY_ROLE: dict[str, dict[str, int]] = {
    "champion": {"supportive": 90, "neutral": 10},
    "blocker": {"opposed": 80, "neutral": 20},
}
STANCE_DEFAULT = {"supportive": 35, "neutral": 50, "opposed": 15}

# Leads.
LEAD_SOURCE_WEIGHTS = {
    "website": 25,
    "referral": 15,
    "exhibition": 15,
    "call": 15,
    "partner": 10,
    "tender": 10,
    "wecom": 10,
}
LEAD_STATUS_WEIGHTS = {
    "new": 15,
    "assigned": 20,
    "contacted": 25,
    "qualified": 15,
    "converted": 10,
    "disqualified": 15,
}

# Opportunities.
STAGE_WEIGHTS = {
    "prospecting": 12,
    "qualification": 12,
    "needs_analysis": 12,
    "proposal": 10,
    "negotiation": 8,
}
# Median deal size in yuan per industry; amounts are lognormal around it.
MEDIAN_AMOUNT = {
    "manufacturing": 420_000,
    "medical": 650_000,
    "energy": 900_000,
    "retail": 220_000,
    "software": 300_000,
    "other": 160_000,
}
GRADE_FACTOR = {"A": 2.0, "B": 1.3, "C": 0.8, "D": 0.45}
GRADE_DEALS = {"A": 4.0, "B": 2.5, "C": 1.2, "D": 0.6}
PROJECTS: dict[str, list[str]] = {
    "manufacturing": ["MES升级", "供应链协同平台", "设备预测性维护", "经销商管理系统", "质量追溯"],
    "medical": ["智慧医院", "临床数据中心", "医保控费系统", "互联网医院", "医疗设备管理"],
    "energy": ["安全生产管理", "新能源场站监控", "能耗管理平台", "工程项目管理", "巡检数字化"],
    "retail": ["会员营销平台", "门店数字化", "全渠道订单中心", "导购企微运营", "供应链补货"],
    "software": ["渠道伙伴管理", "销售管理系统", "客户成功平台", "数据中台", "订阅计费"],
    "other": ["客户关系管理", "业务流程数字化", "移动办公", "数据报表平台"],
}
PHASES = ["", "一期", "二期", "三期", "升级", "扩容"]
LOSS_REASON_WEIGHTS = {
    "price": 30,
    "competitor": 25,
    "product_fit": 15,
    "timing": 12,
    "no_decision": 12,
    "relationship": 6,
}
COMPETITOR_NAMES = {
    "salesforce": "Salesforce",
    "hubspot": "HubSpot",
    "xiaoshouyi": "销售易",
    "fxiaoke": "纷享销客",
    "kingdee": "金蝶",
    "yonyou": "用友",
    "in_house": "客户自研团队",
}
COMPETITOR_WEIGHTS = {
    "xiaoshouyi": 25,
    "fxiaoke": 25,
    "yonyou": 15,
    "kingdee": 12,
    "salesforce": 10,
    "in_house": 8,
    "hubspot": 5,
}

# Activities: type weights, subjects, outcomes and transcript sentences.
ACTIVITY_WEIGHTS = {"visit": 25, "call": 30, "email": 15, "meeting": 15, "im": 15}
DURATION = {"visit": (40, 150), "call": (3, 35), "meeting": (30, 120)}
SUBJECTS = {
    "visit": ["上门拜访：{topic}", "拜访{title}，沟通{topic}", "现场调研：{topic}"],
    "call": ["电话跟进：{topic}", "电话沟通{topic}", "回访：{topic}"],
    "email": ["邮件：发送{topic}资料", "邮件：确认{topic}会议纪要", "邮件：报价说明"],
    "meeting": ["{topic}方案评审会", "{topic}需求调研会", "高层会谈：{topic}"],
    "im": ["企业微信沟通{topic}", "企微：确认下次拜访时间", "企微：同步{topic}进展"],
}
OUTCOMES = [
    "客户认可方案方向，约定下周做产品演示",
    "需求已明确，待客户内部立项",
    "客户对价格有顾虑，需要重新报价",
    "关键人出差，改期再约",
    "已安排技术交流，解决方案架构师参加",
    "客户要求补充同行业案例",
    "竞品已入场，需要尽快推进高层拜访",
    "预算已批复，进入商务流程",
    "客户暂无明确需求，保持季度跟进",
    "法务正在审核合同条款",
]
PAIN_POINTS = {
    "manufacturing": [
        "客户反映经销商订单靠 Excel 汇总，月底对账要三四天",
        "车间设备停机原因说不清，维修全凭老师傅经验",
        "客户说销售预测和生产计划对不上，库存积压严重",
    ],
    "medical": [
        "信息科说各科室系统是孤岛，数据要手工导出",
        "院方担心医保飞检，希望事前控费",
        "患者投诉排队时间长，院长很关注满意度指标",
    ],
    "energy": [
        "场站分散，巡检记录还是纸质的",
        "安全生产考核压力大，隐患整改跟踪不到位",
        "新能源项目多，工程进度和成本难以统一管控",
    ],
    "retail": [
        "会员复购率下降，导购不知道该联系谁",
        "门店补货靠经验，畅销品经常断货",
        "线上线下订单分开处理，促销口径不统一",
    ],
    "software": [
        "渠道伙伴报备撞单多，分润经常扯皮",
        "续费率波动大，客户成功团队缺少预警",
        "销售过程不透明，管理层看不到真实的管道",
    ],
    "other": [
        "业务审批全靠纸质单据，流程慢",
        "客户信息分散在个人手里，人员离职就流失",
    ],
}
BUDGET_SENTENCES = [
    "对方透露今年预算大概在{budget}万左右，需要分两期走",
    "预算还没批，{title}说要等下季度的经营会",
    "预算{budget}万以内可以直接审批，超过要上董事会",
    "采购走公开招标，预计{budget}万的规模",
]
COMPETITOR_SENTENCES = [
    "{competitor}上个月来做过演示，报价比我们低一成",
    "客户之前用过{competitor}，觉得实施周期太长",
    "{competitor}和对方老板关系不错，要重点关注",
]
NEXT_STEPS = [
    "下一步：周五前提交方案初稿，约{title}做汇报",
    "下一步：安排架构师做技术交流，准备同行业案例",
    "下一步：发送报价单，跟进采购流程",
    "下一步：约信息部做系统对接调研",
    "下一步：邀请客户参观标杆客户现场",
]
OPENERS = [
    "今天和{contact}（{title}）沟通了约{minutes}分钟。",
    "{contact}主动联系我们，聊了{topic}的情况。",
    "本次拜访见到了{contact}，整体氛围不错。",
]

# Tasks for reps.
TASK_SUBJECTS = [
    "跟进{account}的报价反馈",
    "准备{account}的方案演示",
    "提交{account}合同审批",
    "催收{account}的回款",
    "更新{account}的决策链信息",
    "约{account}高层拜访",
    "整理{account}的需求调研纪要",
]

# Characters of made-up two-character brand names (华瑞, 鼎盛 ...), beside Faker's prefixes.
BRAND_CHARS = (
    "华瑞泰和鼎盛恒通宏达金源博宇新兴嘉诚永安海天中科联创远航明德卓越汇丰凯旋盈信富康隆昌"
    "启润泽星辰长城云帆正大同仁宝利东方北辰南山百川万象国联安信三峡华夏九州伟业"
)
COMPANY_SUFFIXES = ("集团股份有限公司", "集团有限公司", "股份有限公司", "有限公司")
# How a rep addresses a contact of a rank: 王总, 李主任.
HONORIFICS = {"c_level": "总", "vp": "总", "director": "总监", "manager": "经理", "staff": "工"}
MEDICAL_HONORIFICS = {
    "c_level": "院长",
    "vp": "院长",
    "director": "主任",
    "manager": "科长",
    "staff": "老师",
}
# IM exchanges: the contact's message and the rep's reply.
IM_MESSAGES = [
    "方案收到了，我们内部再看一下。",
    "下周二领导有空，可以安排汇报。",
    "报价能不能再优惠一点？",
    "合同法务那边还有两条意见。",
    "系统演示的账号能再开一个吗？",
]
IM_REPLIES = [
    "好的，有问题随时找我。",
    "收到，我跟领导申请一下。",
    "没问题，今天下班前发您。",
    "好的，我约架构师一起过来。",
]
