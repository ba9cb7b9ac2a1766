"""The campaigns' models (tags, segments and campaigns are on the roadmap). Members' RFM, which
campaigns target on, is kept by the engine: loyalty.models.MemberRFM."""
